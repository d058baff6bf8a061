"""The diffusion core: schedules, forward noising, DDPM/DDIM samplers, the reverse loop and its
hooks, the noise-prediction loss, multinomial diffusion for categorical columns (and the mixed
Gaussian + multinomial loss and reverse loop), the training loop, EMA, and saving a network with its schedule."""
from .ema import EMA
from .losses import denoising_loss, noise_loss
from .multinomial import MultinomialDiffusion, mixed_loss, mixed_reverse
from .persist import net_arrays, load_net_arrays, net_state, restore_net
from .reverse import denoise, reverse, score_gradient, towards_input
from .samplers import DDIMSampler, DDPMSampler, make_sampler
from .schedules import NoiseSchedule, make_betas
from .training import TrainConfig, TrainResult, train

__all__ = ["EMA", "DDIMSampler", "DDPMSampler", "denoise", "reverse", "towards_input", "score_gradient",
           "make_sampler", "NoiseSchedule", "make_betas", "TrainConfig", "TrainResult", "denoising_loss",
           "noise_loss", "train", "MultinomialDiffusion", "mixed_loss", "mixed_reverse", "net_arrays", "load_net_arrays", "net_state", "restore_net"]
