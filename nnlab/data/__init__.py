"""Datasets, splits, preprocessing and batch loaders."""
from nnlab.data import cache, folder, imageio, idx, sources, splits
from nnlab.data.dataset import ImageDataset
from nnlab.data.loader import TensorLoader
from nnlab.data.preprocess import Preprocess
from nnlab.data.sources import DATASETS, load_splits

__all__ = ["DATASETS", "ImageDataset", "Preprocess", "TensorLoader", "cache", "folder", "idx", "imageio",
           "load_splits", "sources", "splits"]
