"""User-facing detectors, one class per method, registered under a short name."""
from .base import BaseDetector
from .tabular.pyod import PyODECOD, PyODIForest, PyODKNN, PyODLOF, PyODOCSVM
from .tabular.cycle import CycleDetector
from .tabular.ddpm import DDPMDetector
from .tabular.tabddpm import TabDDPMDetector
from .tabular.diffusion import DiffusionDetector
from .tabular.dte import DTECategorical, DTEInverseGamma, DTENonParametric
from .tabular.auto import TableAuto, TableFusion
from .image.auto import ImageAuto
from .image.split import ImageSplit
from .image.composite import FeatureGlobal
from .image.default import ImageDiffusion
from .image.denoising import ImageCond, ImageRecon
from .image.feature import FeatureDiffusion, FeatureIdeal, PatchCore
from .image.feature_seg import FeatureSegDiffusion
from .image.patch import PatchDiffusion, PatchKNN
from .image.seg import ImageSegCycle
from .series.baselines import MatrixProfile, SubIForest, SubPCA
from .series.window import SeriesForecast, SeriesImpute, SeriesRecon
from .series.cycle import SeriesCycle
from .series.diffusion import SeriesDiffusion
from .series.pretrained import SeriesPretrained
from .series.fusion import SeriesFusion
from .series.auto import SeriesAuto
from .multimodal import MMCross, MMEarly, MMLate, MultimodalDefault
from .video import FrameDiff, VideoDefault, VideoIdeal, VideoImage, VideoObj, VideoPred
from .registry import detector_class, list_detectors, load, make_detector, parse_spec, register

for _cls in (DiffusionDetector, DDPMDetector, DTENonParametric, DTECategorical, DTEInverseGamma,
             PyODKNN, PyODIForest, PyODECOD, PyODLOF, PyODOCSVM, CycleDetector, TabDDPMDetector, TableAuto, TableFusion,
             SeriesDiffusion, SeriesRecon, SeriesImpute, SeriesForecast, SubPCA, SubIForest, MatrixProfile, SeriesCycle,
             SeriesPretrained, SeriesFusion, SeriesAuto,
             ImageDiffusion, PatchDiffusion, PatchKNN, ImageSegCycle, ImageRecon, ImageCond,
             FeatureDiffusion, PatchCore, FeatureIdeal, FeatureSegDiffusion, FeatureGlobal, ImageAuto, ImageSplit,
             VideoDefault, VideoPred, VideoIdeal, VideoImage, FrameDiff, VideoObj,
             MultimodalDefault, MMCross, MMLate, MMEarly):
    register(_cls)

__all__ = ["BaseDetector", "CycleDetector", "DiffusionDetector", "DDPMDetector", "TabDDPMDetector", "DTENonParametric", "DTECategorical",
           "DTEInverseGamma", "PyODKNN", "PyODIForest", "PyODECOD", "PyODLOF", "PyODOCSVM", "TableAuto", "TableFusion",
           "ImageDiffusion", "PatchDiffusion", "PatchKNN", "ImageSegCycle", "ImageRecon", "ImageCond", "FeatureDiffusion", "PatchCore", "FeatureIdeal", "FeatureSegDiffusion", "FeatureGlobal", "ImageAuto", "ImageSplit", "SeriesCycle", "SeriesDiffusion", "SeriesRecon", "SeriesImpute", "SeriesForecast", "SeriesPretrained", "SeriesFusion", "SeriesAuto", "SubPCA", "SubIForest", "MatrixProfile",
           "VideoDefault", "VideoPred", "VideoIdeal", "VideoImage", "FrameDiff", "VideoObj",
           "MultimodalDefault", "MMCross", "MMLate", "MMEarly",
           "detector_class", "list_detectors", "load", "make_detector", "parse_spec", "register"]
