"""The diffusion core: schedules, forward noising, DDPM/DDIM samplers, training loop, EMA."""
from .ema import EMA
from .samplers import DDIMSampler, DDPMSampler, denoise, make_sampler
from .schedules import NoiseSchedule, make_betas
from .training import TrainConfig, TrainResult, denoising_loss, train

__all__ = ["EMA", "DDIMSampler", "DDPMSampler", "denoise", "make_sampler", "NoiseSchedule", "make_betas",
           "TrainConfig", "TrainResult", "denoising_loss", "train"]
