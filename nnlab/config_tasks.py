"""Config sections beyond the core ones: training-time regularization and augmentation, and one section per task
(``classify:``, ``detect:``, ``generate:``, ``rl:``, ``segment:`` ...). ``nnlab.config`` holds the core
sections (data, model, optim, train), the ``Config`` that gathers them all, and the loading machinery."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nnlab.errors import ConfigError


def _check(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {why}")


@dataclass
class NoiseConfig:
    input_std: float = 0.0  # Gaussian noise on the (normalized) training inputs
    weight_std: float = 0.0  # Gaussian noise on the weights, training forward pass only

    def __post_init__(self) -> None:
        _check(self.input_std >= 0, "regularize.noise.input_std", "must be >= 0")
        _check(self.weight_std >= 0, "regularize.noise.weight_std", "must be >= 0")


@dataclass
class RegularizeConfig:
    l1: float = 0.0  # lambda of the explicit penalty lambda * sum|w| added to the loss
    l2: float = 0.0  # lambda of lambda * sum w^2 (decoupled decay is optim.weight_decay)
    include_bias: bool = False  # also penalize biases and normalization parameters
    label_smoothing: float = 0.0
    mixup: float = 0.0  # alpha of Beta(alpha, alpha); 0: off
    cutmix: float = 0.0  # alpha; 0: off
    mix_prob: float = 1.0  # probability that a batch is mixed at all
    switch_prob: float = 0.5  # probability of CutMix (rather than mixup) when both are on
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self) -> None:
        for key in ("l1", "l2", "mixup", "cutmix"):
            _check(getattr(self, key) >= 0, f"regularize.{key}", "must be >= 0")
        for key in ("label_smoothing", "mix_prob", "switch_prob"):
            _check(0.0 <= getattr(self, key) <= 1.0, f"regularize.{key}", "must be in [0, 1]")
        _check(self.label_smoothing < 1.0, "regularize.label_smoothing", "must be below 1")


@dataclass
class AugmentConfig:
    """Training-time augmentation (nnlab/data/augment.py); probabilities in [0, 1], magnitudes >= 0.

    A key left unset (None) takes the preset's value, or off; a key set, even to 0, overrides the preset."""

    preset: str | None = None  # a named set of the keys below (see `nnlab.data.augment.PRESETS`)
    hflip: float | None = None  # probability of a horizontal flip
    vflip: float | None = None  # probability of a vertical flip
    rot90: float | None = None  # probability of a random 90/180/270-degree turn
    rotate: float | None = None  # max angle in degrees (uniform in [-rotate, rotate])
    scale: list[float] | None = None  # [min, max] zoom factor
    translate: float | None = None  # max shift as a fraction of the image size
    resized_crop: list[float] | None = None  # [min, max] area fraction of a random crop resized back
    pad_crop: int | None = None  # zero-pad by this many pixels, then crop back at a random offset
    hue: float | None = None  # max hue shift (fraction of the colour wheel, <= 0.5)
    saturation: float | None = None  # max relative saturation change
    value: float | None = None  # max relative brightness change
    noise: float | None = None  # std of Gaussian pixel noise (pixel values in [0, 1])
    erase: float | None = None  # probability of random erasing (a box of 2-33% of the image set to 0)

    def __post_init__(self) -> None:
        for key in ("hflip", "vflip", "rot90", "erase"):
            _check(0.0 <= (getattr(self, key) or 0.0) <= 1.0, f"augment.{key}", "must be a probability in [0, 1]")
        for key in ("rotate", "translate", "pad_crop", "hue", "saturation", "value", "noise"):
            _check((getattr(self, key) or 0) >= 0, f"augment.{key}", "must be >= 0")
        _check((self.hue or 0.0) <= 0.5, "augment.hue", "must be <= 0.5")
        _check((self.translate or 0.0) < 1.0, "augment.translate", "must be below 1")
        _check((self.saturation or 0.0) <= 1.0 and (self.value or 0.0) <= 1.0, "augment.saturation",
               "and augment.value must be <= 1")
        for key in ("scale", "resized_crop"):
            pair = getattr(self, key)
            _check(pair is None or (len(pair) == 2 and 0 < pair[0] <= pair[1]), f"augment.{key}",
                   "must be [min, max] with 0 < min <= max")
        _check(self.resized_crop is None or self.resized_crop[1] <= 1.0, "augment.resized_crop",
               "area fractions must be <= 1")


@dataclass
class ClassifyConfig:
    """Options of ``task: classify``."""

    topk: int = 5  # the k of the top-k accuracy that evaluation reports (as ``topK``)

    def __post_init__(self) -> None:
        _check(self.topk >= 1, "classify.topk", "must be >= 1")


@dataclass
class GenerateConfig:
    """Options of ``task: generate`` (models that reconstruct or generate images)."""

    binarize: float | None = None  # threshold in (0, 1): pixels become 0/1 (Bernoulli data); None: keep grey
    noise_std: float = 0.0  # denoising: Gaussian noise on the inputs in training, the clean image as target
    samples: int = 16  # images in the reconstruction / sample grids nnlab eval writes
    epoch_samples: bool = True  # vae, gan, pixelcnn: a grid of samples after each epoch (samples/epoch_NNN.png)
    beta: float = 1.0  # vae: weight of the KL term (1: the ELBO; beta-VAE otherwise)
    iw_samples: int = 100  # vae: k of the importance-weighted bound on -log p(x) (0: skip it)
    iw_images: int | None = 1000  # vae: images per evaluated split that get the k-sample bound (None: all)
    gan_loss: str = "standard"  # gan: standard (non-saturating) | wgan-gp
    label_smoothing: float = 0.0  # gan: one-sided, the real label becomes 1 - s
    gp_weight: float = 10.0  # gan, wgan-gp: weight of the gradient penalty

    def __post_init__(self) -> None:
        _check(self.binarize is None or 0.0 < self.binarize < 1.0, "generate.binarize", "must be in (0, 1)")
        _check(self.noise_std >= 0, "generate.noise_std", "must be >= 0")
        _check(self.samples >= 1, "generate.samples", "must be >= 1")
        _check(self.beta >= 0, "generate.beta", "must be >= 0")
        _check(self.iw_samples >= 0, "generate.iw_samples", "must be >= 0")
        _check(self.iw_images is None or self.iw_images >= 0, "generate.iw_images", "must be >= 0 or null")
        _check(self.gan_loss in ("standard", "wgan-gp"), "generate.gan_loss", "must be standard or wgan-gp")
        _check(0.0 <= self.label_smoothing < 0.5, "generate.label_smoothing", "must be in [0, 0.5)")
        _check(self.gp_weight >= 0, "generate.gp_weight", "must be >= 0")


@dataclass
class ScenesConfig:
    """The generated digit scenes of ``data.dataset: scenes`` (nnlab data scenes makes the same on disk)."""

    n: int = 2000  # training scenes (validation is taken from them by data.val_fraction)
    n_test: int = 500
    digits: list[int] = field(default_factory=lambda: [1, 5])  # digits per scene, [min, max]
    scale: list[float] = field(default_factory=lambda: [0.5, 2.0])  # digit size relative to 28 px, [min, max]
    clutter: bool = True  # textured background and digit fragments

    def __post_init__(self) -> None:
        _check(self.n >= 1 and self.n_test >= 1, "detect.scenes.n", "and n_test must be >= 1")
        _check(len(self.digits) == 2 and 0 <= self.digits[0] <= self.digits[1], "detect.scenes.digits",
               "must be [min, max] with 0 <= min <= max")
        _check(len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1], "detect.scenes.scale",
               "must be [min, max] with 0 < min <= max")


@dataclass
class DetectConfig:
    """Options of ``task: detect``."""

    max_dets: list[int] = field(default_factory=lambda: [1, 10, 100])  # COCO's detections per image for AR / AP
    min_visibility: float = 0.3  # augmentation drops a box when less than this fraction of it stays in view
    scenes: ScenesConfig = field(default_factory=ScenesConfig)

    def __post_init__(self) -> None:
        _check(len(self.max_dets) >= 1 and min(self.max_dets) >= 1, "detect.max_dets", "must be positive counts")
        _check(0.0 <= self.min_visibility <= 1.0, "detect.min_visibility", "must be in [0, 1]")


@dataclass
class SegmentConfig:
    """Options of ``task: segment`` (semantic segmentation: a class per pixel; nnlab/tasks/segment.py)."""

    loss: str = "cross_entropy"  # cross_entropy | dice | focal, or a sum such as "cross_entropy+dice"
    class_weights: list[float] | None = None  # one weight per class (cross-entropy, focal, Dice's mean)
    ignore_index: int = 255  # mask value that counts in no loss and no metric
    focal_gamma: float = 2.0
    dice_smooth: float = 1.0
    boundary_ratio: float = 0.02  # boundary IoU band width as a fraction of the image diagonal
    shapes: int = 200  # scenes generated for data.dataset: shapes
    samples: int = 8  # images in the overlay grid that `nnlab eval` writes

    def __post_init__(self) -> None:
        _check(bool(self.loss.strip()), "segment.loss", "must name at least one loss")
        _check(self.class_weights is None or all(w >= 0 for w in self.class_weights), "segment.class_weights",
               "must be >= 0")
        _check(0 <= self.ignore_index <= 255, "segment.ignore_index", "must be in 0..255")
        _check(0.0 < self.boundary_ratio < 0.5, "segment.boundary_ratio", "must be in (0, 0.5)")
        _check(self.focal_gamma >= 0 and self.dice_smooth >= 0, "segment.focal_gamma",
               "and segment.dice_smooth must be >= 0")
        _check(self.shapes >= 4 and self.samples >= 1, "segment.shapes", "must be >= 4 and segment.samples >= 1")


RL_TABULAR = ("value_iteration", "policy_iteration", "q_learning", "sarsa")  # `nnlab rl solve`
RL_DEEP = ("dqn", "reinforce")  # `nnlab train` (task: rl)


@dataclass
class RLConfig:
    """Options of ``task: rl`` and ``nnlab rl solve`` (nnlab/rl, nnlab/tasks/rl.py)."""

    env: str = "CartPole-v1"  # a Gymnasium id (see `nnlab rl envs`) or "gridworld"
    env_args: dict[str, Any] = field(default_factory=dict)  # keywords of gym.make, or the gridworld's
    max_episode_steps: int | None = None  # None: the environment's own time limit
    algorithm: Literal["value_iteration", "policy_iteration", "q_learning", "sarsa", "dqn", "reinforce"] = "dqn"
    gamma: float = 0.99
    # dynamic programming and tabular TD
    tol: float = 1e-8  # value iteration stops when the Bellman residual is below this
    episodes: int = 20_000  # Q-learning / SARSA training episodes
    alpha: float = 0.1  # TD step size
    eval_every: int = 1000  # Q-learning / SARSA: greedy success rate every N episodes (0: off)
    # exploration (DQN: over environment steps; tabular: over episodes)
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_fraction: float = 0.5  # of all steps (episodes) over which epsilon decays linearly
    # deep RL: an epoch is `steps_per_epoch` environment steps; a training batch every `train_frequency`
    steps_per_epoch: int = 10_000
    train_frequency: int = 10
    learning_starts: int = 1000  # environment steps before the first update (filled into the buffer)
    buffer_size: int = 10_000
    target_update: int = 500  # optimizer steps between target updates
    tau: float = 1.0  # 1: hard copy; < 1: Polyak averaging at every target update
    double: bool = False  # Double DQN
    loss: Literal["huber", "mse"] = "huber"
    episodes_per_batch: int = 4  # REINFORCE: episodes per gradient step
    updates_per_epoch: int = 25  # REINFORCE: gradient steps per epoch
    value_coef: float = 0.5  # REINFORCE: weight of the baseline's squared error in the loss
    eval_episodes: int = 10  # greedy validation episodes per epoch (val_return)
    test_episodes: int = 1000  # greedy test episodes (tabular: the success-rate episodes)

    def __post_init__(self) -> None:
        _check(0.0 <= self.gamma <= 1.0, "rl.gamma", f"must be in [0, 1] (got {self.gamma})")
        _check(self.tol > 0, "rl.tol", "must be positive")
        _check(0.0 < self.alpha <= 1.0, "rl.alpha", "must be in (0, 1]")
        _check(0.0 < self.tau <= 1.0, "rl.tau", "must be in (0, 1]")
        for key in ("epsilon_start", "epsilon_end", "exploration_fraction"):
            _check(0.0 <= getattr(self, key) <= 1.0, f"rl.{key}", "must be in [0, 1]")
        for key in ("episodes", "steps_per_epoch", "train_frequency", "buffer_size", "target_update",
                    "episodes_per_batch", "updates_per_epoch", "eval_episodes", "test_episodes"):
            _check(getattr(self, key) >= 1, f"rl.{key}", "must be >= 1")
        _check(self.learning_starts >= 0 and self.eval_every >= 0, "rl.learning_starts", "and rl.eval_every "
               "must be >= 0")
        _check(self.max_episode_steps is None or self.max_episode_steps >= 1, "rl.max_episode_steps", "must be >= 1")
        _check(self.steps_per_epoch >= self.train_frequency, "rl.steps_per_epoch",
               "must be at least rl.train_frequency (one update per epoch)")


@dataclass
class CaptionScenesConfig(ScenesConfig):
    """The digit scenes of ``sequence.mode: caption``: fewer, plainer digits than detection's."""

    digits: list[int] = field(default_factory=lambda: [1, 3])
    scale: list[float] = field(default_factory=lambda: [0.8, 1.4])
    clutter: bool = False


@dataclass
class SequenceConfig:
    """Options of ``task: sequence`` (recurrent networks)."""

    mode: Literal["lm", "rows", "seq2seq", "caption"] = "lm"  # lm: character language model on a text; rows:
    # images read row by row (many-to-one); seq2seq: generated dates in human formats -> ISO 8601 (encoder-decoder);
    # caption: digit scenes described in words (one-to-many: CNN encoder + recurrent decoder; nnlab/tasks/caption.py)
    window: int = 128  # T: steps of truncated backpropagation through time (lm)
    val_fraction: float = 0.1  # the last part of the text (lm)
    test_fraction: float = 0.0  # taken from the very end (lm); 0: the test split is the validation text
    max_chars: int | None = None  # use only the first N characters of the text (quick runs)
    generated_chars: int = 20000  # size of the generated corpus of data.dataset 'sums'
    sample_length: int = 200  # characters nnlab predict writes after each prompt
    temperature: float = 0.8  # of sampling (0: always the most likely character)
    pairs: int = 20000  # generated (human date, ISO date) pairs of seq2seq, split by val_ and test_fraction
    beam: int = 3  # beam width of seq2seq's predict and report, of caption's metrics and predict (1: greedy)
    scenes: CaptionScenesConfig = field(default_factory=CaptionScenesConfig)  # caption
    min_count: int = 1  # caption: words seen fewer times in the training captions read as <unk>

    def __post_init__(self) -> None:
        _check(self.window >= 1, "sequence.window", "must be >= 1")
        _check(0.0 < self.val_fraction < 1.0, "sequence.val_fraction", "must be in (0, 1)")
        _check(0.0 <= self.test_fraction < 1.0 - self.val_fraction, "sequence.test_fraction",
               "must be >= 0 and leave some training text")
        _check(self.max_chars is None or self.max_chars > 1, "sequence.max_chars", "must be > 1")
        _check(self.generated_chars > 1, "sequence.generated_chars", "must be > 1")
        _check(self.sample_length >= 1, "sequence.sample_length", "must be >= 1")
        _check(self.temperature >= 0, "sequence.temperature", "must be >= 0")
        _check(self.pairs >= 10, "sequence.pairs", "must be >= 10")
        _check(self.beam >= 1, "sequence.beam", "must be >= 1")
        _check(self.min_count >= 1, "sequence.min_count", "must be >= 1")
