//! What a run needs to continue from an epoch boundary, kept in its `checkpoints/`:
//!
//! - `resume-N.safetensors`: the model after epoch N (and after a re-init that follows it);
//! - `resume-N.optim.safetensors`: the optimiser's momentum or moments and step counts;
//! - `resume.json`: epoch, global step, best accuracy so far and the RIFLE schedule
//!   (period changes made while training included), naming the two files above.
//!
//! The tensor files are written first, each atomically; `resume.json` is renamed into place
//! last and is the commit point, so a process killed at any moment leaves a consistent set.
//! Training draws its randomness from a generator reseeded at every epoch start from
//! (train.seed, epoch), so a resumed run repeats the uninterrupted one's shuffles, crops
//! and dropout masks.
use super::rifle_schedule::RifleSchedule;
use crate::runs::atomic::write_atomically;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

pub const RESUME_FILE: &str = "resume.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    /// Epochs done (numbered from 1): training continues with epoch `epoch + 1`.
    pub epoch: u32,
    /// Optimiser steps done.
    pub step: u64,
    pub best_val_acc: Option<f64>,
    pub last_val_acc: Option<f64>,
    pub rifle: RifleSchedule,
    /// File names in the checkpoints folder.
    pub weights: String,
    pub optimizer: String,
}

impl ResumeState {
    /// Reads `checkpoints/resume.json`; None when the run never finished an epoch.
    pub fn read(checkpoints: &Path) -> Result<Option<Self>, String> {
        let path = checkpoints.join(RESUME_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn write(&self, checkpoints: &Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let path = checkpoints.join(RESUME_FILE);
        write_atomically(&path, &json).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The seed of epoch `epoch`'s random draws (splitmix64 of the pair).
pub fn epoch_seed(seed: u64, epoch: u32) -> i64 {
    let mut z = seed ^ u64::from(epoch).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z & (i64::MAX as u64)) as i64
}

/// Writes `tensors` to `path` atomically (a temporary file renamed over it).
pub fn write_tensors(tensors: &[(String, Tensor)], path: &Path) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("t");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let tensors = super::precision::contiguous_named(tensors);
    let result = Tensor::write_safetensors(&tensors, &tmp)
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Copies a checkpoint into the model's variables in place. Every variable must be in the
/// file with its shape; a mismatch is an error naming the tensor.
pub fn load_model(vs: &VarStore, path: &Path) -> Result<(), String> {
    let saved: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_iter()
        .collect();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut var) in vars {
            let src = saved.get(&name).ok_or_else(|| {
                format!(
                    "{}: no tensor `{name}` (another architecture?)",
                    path.display()
                )
            })?;
            if src.size() != var.size() {
                return Err(format!(
                    "{}: tensor `{name}` has shape {:?}, the model expects {:?}",
                    path.display(),
                    src.size(),
                    var.size()
                ));
            }
            var.copy_(&src.to_kind(var.kind()));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seeds_differ_and_repeat() {
        assert_eq!(epoch_seed(3, 1), epoch_seed(3, 1));
        assert_ne!(epoch_seed(3, 1), epoch_seed(3, 2));
        assert_ne!(epoch_seed(3, 1), epoch_seed(4, 1));
        assert!(epoch_seed(u64::MAX, 7) >= 0);
    }

    #[test]
    fn state_round_trips_with_the_schedule() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ResumeState::read(dir.path()).unwrap(), None);
        let mut rifle = RifleSchedule::new(10.0, Some(2.0), 1.0);
        assert!(rifle.due(2.0));
        rifle.set_period(3.0, 2.5);
        let s = ResumeState {
            epoch: 2,
            step: 20,
            best_val_acc: Some(0.5),
            last_val_acc: None,
            rifle,
            weights: "resume-2.safetensors".into(),
            optimizer: "resume-2.optim.safetensors".into(),
        };
        s.write(dir.path()).unwrap();
        assert_eq!(ResumeState::read(dir.path()).unwrap(), Some(s));
    }
}
