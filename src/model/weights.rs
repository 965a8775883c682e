//! Loading pretrained weights into a built network, saying exactly what matched.
//!
//! Done by hand rather than with `VarStore::load_partial` because that cannot report
//! unexpected keys nor replace a head whose class count differs.
use super::network::Network;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tch::Tensor;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("model.weights: {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "model.weights: {path}: unsupported file type (allowed: .safetensors, .ot; convert a \
         PyTorch .pth first: `rifle-tui import-weights FILE.pth FILE.safetensors`, see \
         docs/weights.md)"
    )]
    Format { path: PathBuf },
    #[error(
        "model.weights: {path}: tensor `{name}` has shape {found:?} but this model's has \
         {expected:?}; is the file for another architecture?"
    )]
    Shape {
        path: PathBuf,
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error(
        "model.weights: {path}: none of the file's {count} tensors matches this model's \
         variables (first in the file: {first}); is the file for another architecture?"
    )]
    NothingMatched {
        path: PathBuf,
        count: usize,
        first: String,
    },
}

/// What happened when weights were loaded.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WeightsReport {
    pub loaded: usize,
    /// Variables of the model the file did not have (they keep their random init).
    pub missing: Vec<String>,
    /// Tensors of the file the model has no use for.
    pub unexpected: Vec<String>,
    /// Set when the file's head had another shape and was left out.
    pub head_replaced: Option<String>,
}

impl WeightsReport {
    /// One line a user can read, plus any lists worth showing.
    pub fn messages(&self) -> Vec<String> {
        let mut out = vec![format!("loaded {} pretrained tensors", self.loaded)];
        if let Some(h) = &self.head_replaced {
            out.push(h.clone());
        }
        if !self.missing.is_empty() {
            out.push(format!(
                "{} variables missing from the weights file keep their random init: {}",
                self.missing.len(),
                shorten(&self.missing)
            ));
        }
        if !self.unexpected.is_empty() {
            out.push(format!(
                "{} tensors of the weights file are unused: {}",
                self.unexpected.len(),
                shorten(&self.unexpected)
            ));
        }
        out
    }
}

fn shorten(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", ... ({} more)", names.len() - SHOWN));
    }
    s
}

/// Reads every named tensor of a `.safetensors` or `.ot` file.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, WeightsError> {
    if !path.exists() {
        return Err(WeightsError::Unreadable {
            path: path.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let read = match ext.as_deref() {
        Some("safetensors") => Tensor::read_safetensors(path),
        Some("ot") => Tensor::load_multi(path),
        _ => {
            return Err(WeightsError::Format {
                path: path.to_path_buf(),
            })
        }
    };
    read.map_err(|e| WeightsError::Unreadable {
        path: path.to_path_buf(),
        reason: format!("not a readable weights file ({e})"),
    })
}

/// Copies the file's tensors into `net` by name.
pub fn load_weights(net: &Network, path: &Path) -> Result<WeightsReport, WeightsError> {
    let tensors = read_tensors(path)?;
    let variables = net.vs.variables();
    let mut report = WeightsReport::default();
    let mut seen = BTreeSet::new();
    let mut head_mismatch = None;
    // Shapes are checked for every tensor before anything is copied, so a wrong file
    // leaves the model as it was.
    let mut copies = Vec::new();
    for (name, src) in &tensors {
        // BatchNorm's counter is PyTorch bookkeeping with no counterpart here.
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let Some(dst) = variables.get(name) else {
            report.unexpected.push(name.clone());
            continue;
        };
        seen.insert(name.clone());
        if src.size() != dst.size() {
            if net.is_head(name) {
                // Name the weight rather than the bias when both differ.
                if head_mismatch.is_none() || name.ends_with(".weight") {
                    head_mismatch = Some((name.clone(), src.size(), dst.size()));
                }
                continue;
            }
            return Err(WeightsError::Shape {
                path: path.to_path_buf(),
                name: name.clone(),
                found: src.size(),
                expected: dst.size(),
            });
        }
        copies.push((dst, src));
    }
    if copies.is_empty() && !tensors.is_empty() {
        return Err(WeightsError::NothingMatched {
            path: path.to_path_buf(),
            count: tensors.len(),
            first: tensors[0].0.clone(),
        });
    }
    tch::no_grad(|| {
        for (dst, src) in &copies {
            let mut dst = (*dst).shallow_clone();
            dst.copy_(&src.to_kind(dst.kind()).to_device(dst.device()));
        }
    });
    report.loaded = copies.len();
    report.missing = variables
        .keys()
        .filter(|k| !seen.contains(*k) && !net.is_head(k))
        .cloned()
        .collect();
    report.missing.sort();
    report.unexpected.sort();
    if let Some((name, found, expected)) = head_mismatch {
        report.head_replaced = Some(format!(
            "the weights' head `{name}` has shape {found:?}; replaced by a new {expected:?} head \
             for this dataset's {} classes",
            net.classes
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build;
    use crate::profile::Arch;
    use tch::{Device, Kind};

    fn save(net: &Network, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        net.vs.save(&p).unwrap();
        p
    }

    #[test]
    fn round_trip_copies_every_tensor_and_replaces_a_different_head() {
        let dir = tempfile::tempdir().unwrap();
        let source = build(Arch::SmallCnn, 10, 0.0, Device::Cpu);
        let file = save(&source, dir.path(), "w.safetensors");
        let target = build(Arch::SmallCnn, 3, 0.0, Device::Cpu);
        let report = load_weights(&target, &file).unwrap();
        assert!(report.missing.is_empty(), "{report:?}");
        assert!(report.unexpected.is_empty(), "{report:?}");
        let head = report.head_replaced.expect("10-way head vs 3-way");
        assert!(
            head.contains("fc.weight") && head.contains("3 classes"),
            "{head}"
        );
        let a = source.vs.variables();
        let b = target.vs.variables();
        for name in ["conv1.weight", "bn4.running_var", "conv4.weight"] {
            let diff = (&a[name] - &b[name]).abs().max().double_value(&[]);
            assert_eq!(diff, 0.0, "{name} not copied");
        }
        assert_eq!(b["fc.weight"].size(), vec![3, 64]);
    }

    #[test]
    fn wrong_architecture_is_an_error_naming_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("other.safetensors");
        let t = Tensor::zeros([8, 3, 7, 7], (Kind::Float, Device::Cpu));
        Tensor::write_safetensors(&[("conv1.weight", &t)], &file).unwrap();
        let net = build(Arch::SmallCnn, 3, 0.0, Device::Cpu);
        let err = load_weights(&net, &file).unwrap_err().to_string();
        assert!(err.contains("conv1.weight"), "{err}");
        assert!(
            err.contains("[8, 3, 7, 7]") && err.contains("[16, 3, 3, 3]"),
            "{err}"
        );
        // Nothing was copied before the error.
        assert_ne!(
            net.vs.variables()["conv1.weight"]
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }

    #[test]
    fn unknown_tensors_and_missing_ones_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("partial.ot");
        let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
        let tensors = [
            ("conv1.weight", zeros(&[16, 3, 3, 3])),
            ("extra.weight", zeros(&[2])),
            ("bn1.num_batches_tracked", zeros(&[1])),
        ];
        Tensor::save_multi(&tensors, &file).unwrap();
        let net = build(Arch::SmallCnn, 3, 0.0, Device::Cpu);
        let report = load_weights(&net, &file).unwrap();
        assert_eq!(report.loaded, 1);
        assert_eq!(report.unexpected, vec!["extra.weight".to_string()]);
        assert!(report.missing.contains(&"conv2.weight".to_string()));
        assert!(!report.missing.iter().any(|m| m.starts_with("fc.")));
        let text = report.messages().join("\n");
        assert!(text.contains("extra.weight"), "{text}");
    }

    #[test]
    fn unreadable_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let net = build(Arch::SmallCnn, 3, 0.0, Device::Cpu);
        let missing = load_weights(&net, &dir.path().join("nope.safetensors")).unwrap_err();
        assert!(missing.to_string().contains("no such file"), "{missing}");
        let pth = dir.path().join("model.pth");
        std::fs::write(&pth, b"x").unwrap();
        let err = load_weights(&net, &pth).unwrap_err().to_string();
        assert!(
            err.contains("model.pth") && err.contains(".safetensors"),
            "{err}"
        );
        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, b"not a safetensors file").unwrap();
        let err = load_weights(&net, &junk).unwrap_err().to_string();
        assert!(
            err.contains("junk.safetensors") && err.contains("not a readable"),
            "{err}"
        );
    }
}
