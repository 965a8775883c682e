//! `rifle-tui import-weights`: PyTorch checkpoints (`.pth`, `.pt`) to safetensors, in
//! Rust. Reads both of `torch.save`'s formats: the zip archive (`*/data.pkl` plus one
//! `*/data/N` entry a storage) and the legacy one (magic number, protocol and system-info
//! pickles, the object pickle, the storage keys, then the raw storages).
pub mod pickle;

use pickle::{TensorRef, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ImportError {
    pub path: PathBuf,
    pub reason: String,
}

/// The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
/// Keys under which training scripts keep the state dict of a checkpoint.
const STATE_DICT_KEYS: [&str; 3] = ["state_dict", "model_state_dict", "model"];

/// Every tensor of a checkpoint's state dict, contiguous, in the file's order.
pub fn read_checkpoint(path: &Path) -> Result<Vec<(String, Tensor)>, ImportError> {
    let fail = |reason: String| ImportError {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read ({e})")))?;
    let (root, storages) = if bytes.starts_with(b"PK\x03\x04") {
        read_zip(&bytes).map_err(fail)?
    } else if bytes.starts_with(LEGACY_MAGIC) {
        read_legacy(&bytes).map_err(fail)?
    } else {
        return Err(fail(
            "not a PyTorch checkpoint (neither torch.save's zip format nor its legacy format)"
                .into(),
        ));
    };
    let entries = state_dict(root).map_err(fail)?;
    entries
        .into_iter()
        .map(|(name, t)| {
            let tensor =
                materialise(&t, &storages).map_err(|e| fail(format!("tensor `{name}`: {e}")))?;
            Ok((name, tensor))
        })
        .collect()
}

/// Converts `input` to a safetensors file at `output`; returns the tensors written.
pub fn convert(input: &Path, output: &Path) -> Result<Vec<(String, Tensor)>, ImportError> {
    let tensors = read_checkpoint(input)?;
    Tensor::write_safetensors(&tensors, output).map_err(|e| ImportError {
        path: output.to_path_buf(),
        reason: format!("cannot write safetensors ({e})"),
    })?;
    Ok(tensors)
}

type Storages = HashMap<String, Vec<u8>>;

fn read_zip(bytes: &[u8]) -> Result<(Value, Storages), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("unreadable zip archive ({e})"))?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let pkl = names
        .iter()
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
        .ok_or("zip archive without a data.pkl: not a torch.save file")?
        .clone();
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    let read_entry = |archive: &mut zip::ZipArchive<_>, name: &str| -> Result<Vec<u8>, String> {
        let mut f = archive
            .by_name(name)
            .map_err(|e| format!("archive entry {name}: {e}"))?;
        let mut out = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut out)
            .map_err(|e| format!("archive entry {name}: {e}"))?;
        Ok(out)
    };
    if names.iter().any(|n| *n == format!("{prefix}byteorder")) {
        let order = read_entry(&mut archive, &format!("{prefix}byteorder"))?;
        if order.trim_ascii() != b"little" {
            return Err("big-endian checkpoints are not supported".into());
        }
    }
    let data = read_entry(&mut archive, &pkl)?;
    let (root, _) = pickle::load(&data, 0).map_err(|e| format!("data.pkl: {e}"))?;
    let mut storages = Storages::new();
    let storage_prefix = format!("{prefix}data/");
    for name in &names {
        if let Some(key) = name.strip_prefix(&storage_prefix) {
            if !key.is_empty() && !key.contains('/') {
                storages.insert(key.to_string(), read_entry(&mut archive, name)?);
            }
        }
    }
    Ok((root, storages))
}

fn read_legacy(bytes: &[u8]) -> Result<(Value, Storages), String> {
    let (_magic, pos) = pickle::load(bytes, 0)?;
    let (protocol, pos) = pickle::load(bytes, pos)?;
    if protocol != Value::Int(1001) {
        return Err(format!(
            "legacy format with protocol {protocol:?}, expected 1001"
        ));
    }
    let (sys_info, pos) = pickle::load(bytes, pos)?;
    if let Value::Dict(items) = &sys_info {
        if items
            .iter()
            .any(|(k, v)| *k == Value::Str("little_endian".into()) && *v == Value::Bool(false))
        {
            return Err("big-endian checkpoints are not supported".into());
        }
    }
    let (root, pos) = pickle::load(bytes, pos)?;
    // Element sizes, from the storages the object pickle refers to.
    let mut sizes = HashMap::new();
    collect_storages(&root, &mut sizes);
    let (keys, mut pos) = pickle::load(bytes, pos)?;
    let Value::List(keys) = keys else {
        return Err("legacy format: the storage keys are not a list".into());
    };
    let mut storages = Storages::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err("legacy format: a storage key is not a string".into());
        };
        let header = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| format!("storage {key} truncated"))?;
        let count = u64::from_le_bytes(header.try_into().unwrap()) as usize;
        let elem = *sizes.get(&key).unwrap_or(&1);
        let len = count
            .checked_mul(elem)
            .ok_or_else(|| format!("storage {key} too large"))?;
        let data = bytes
            .get(pos + 8..pos + 8 + len)
            .ok_or_else(|| format!("storage {key} truncated"))?;
        storages.insert(key, data.to_vec());
        pos += 8 + len;
    }
    Ok((root, storages))
}

fn collect_storages(v: &Value, sizes: &mut HashMap<String, usize>) {
    match v {
        Value::Tensor(t) => {
            sizes.insert(t.storage_key.clone(), t.dtype.size());
        }
        Value::Storage { dtype, key, .. } => {
            sizes.insert(key.clone(), dtype.size());
        }
        Value::Tuple(items) | Value::List(items) => {
            items.iter().for_each(|i| collect_storages(i, sizes))
        }
        Value::Dict(items) => items.iter().for_each(|(_, i)| collect_storages(i, sizes)),
        Value::Object { args, .. } => args.iter().for_each(|i| collect_storages(i, sizes)),
        _ => {}
    }
}

/// The (name, tensor) pairs of a state dict, or of the state dict a checkpoint holds.
fn state_dict(root: Value) -> Result<Vec<(String, TensorRef)>, String> {
    let Value::Dict(items) = root else {
        return Err(format!(
            "holds {}, not a state dict; save `model.state_dict()` instead of the model \
             (or a dict with a `state_dict` key)",
            root.describe()
        ));
    };
    let is_tensor_dict = |items: &[(Value, Value)]| {
        !items.is_empty()
            && items
                .iter()
                .all(|(k, v)| matches!(k, Value::Str(_)) && matches!(v, Value::Tensor(_)))
    };
    if !is_tensor_dict(&items) {
        for key in STATE_DICT_KEYS {
            let found = items
                .iter()
                .find(|(k, _)| *k == Value::Str(key.to_string()));
            if let Some((_, Value::Dict(inner))) = found {
                if is_tensor_dict(inner) {
                    return state_dict(Value::Dict(inner.clone()));
                }
            }
        }
        let keys: Vec<String> = items
            .iter()
            .take(8)
            .map(|(k, v)| match k {
                Value::Str(s) => format!("`{s}` ({})", v.describe()),
                other => other.describe(),
            })
            .collect();
        return Err(format!(
            "holds a dict that is not a state dict (keys: {}{}); expected tensors by name, or \
             a `state_dict`, `model_state_dict` or `model` key holding them",
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            },
            if items.len() > 8 { ", ..." } else { "" }
        ));
    }
    Ok(items
        .into_iter()
        .map(|(k, v)| match (k, v) {
            (Value::Str(k), Value::Tensor(t)) => (k, t),
            _ => unreachable!("checked above"),
        })
        .collect())
}

/// Builds the contiguous tensor a view describes.
fn materialise(t: &TensorRef, storages: &Storages) -> Result<Tensor, String> {
    let data = storages
        .get(&t.storage_key)
        .ok_or_else(|| format!("storage {} missing from the file", t.storage_key))?;
    let elem = t.dtype.size();
    let numel = (data.len() / elem) as i64;
    if t.size.len() != t.stride.len() {
        return Err("size and stride differ in length".into());
    }
    let empty = t.size.contains(&0);
    if !empty {
        let last = t.offset
            + t.size
                .iter()
                .zip(&t.stride)
                .map(|(&s, &st)| (s - 1) * st)
                .sum::<i64>();
        if t.offset < 0 || t.stride.iter().any(|&s| s < 0) || last >= numel {
            return Err(format!(
                "view (offset {}, size {:?}, stride {:?}) outside its storage of {numel} elements",
                t.offset, t.size, t.stride
            ));
        }
    }
    let storage =
        Tensor::f_from_data_size(&data[..numel as usize * elem], &[numel], t.dtype.kind())
            .map_err(|e| e.to_string())?;
    if empty {
        return Ok(Tensor::zeros(&t.size, (t.dtype.kind(), Device::Cpu)));
    }
    Ok(storage
        .as_strided(&t.size, &t.stride, Some(t.offset))
        .contiguous())
}
