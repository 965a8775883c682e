//! `rifle-tui import-weights IN OUT`: a PyTorch checkpoint to safetensors.
use crate::model::import;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A PyTorch checkpoint (`.pth`/`.pt`) holding a state dict, or a dict with a
    /// `state_dict`, `model_state_dict` or `model` key.
    pub input: PathBuf,
    /// The safetensors file to write.
    pub output: PathBuf,
}

pub fn run(args: &ImportArgs) -> Result<i32, String> {
    let tensors = import::convert(&args.input, &args.output).map_err(|e| e.to_string())?;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut elements = 0i64;
    for (_, t) in &tensors {
        *kinds.entry(format!("{:?}", t.kind())).or_default() += 1;
        elements += t.numel() as i64;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "wrote {} tensors ({} values; {}) to {}",
        tensors.len(),
        elements,
        kinds.join(", "),
        args.output.display()
    );
    Ok(0)
}
