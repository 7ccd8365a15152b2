"""The classic detectors, in the order the notes teach them: classification + localization, a sliding-window
classifier, the same classifier made fully convolutional, HOG + linear SVM (and OpenCV's HOG people detector and
Haar cascades as references), and R-CNN. One detector per module; shared plumbing in ``base``."""
