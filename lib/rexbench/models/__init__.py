"""Models: the LRCN spectrum classifier, the DigitCNN image and spectrogram classifier
and the CNN3D lesion detector, with helpers to save and rebuild each."""
from .cnn3d import CNN3D, load_cnn3d, save_cnn3d
from .digit_cnn import DigitCNN, load_digit_cnn, save_digit_cnn, stem_stride
from .lrcn import LRCN, load_lrcn, save_lrcn

__all__ = ["LRCN", "load_lrcn", "save_lrcn", "CNN3D", "load_cnn3d", "save_cnn3d", "DigitCNN", "load_digit_cnn", "save_digit_cnn", "stem_stride"]
