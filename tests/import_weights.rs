//! `import-weights` on small checkpoints written by torch 2.13's `torch.save`
//! (tests/fixtures/pth/make_fixtures.py made them; they are committed).
use rifle_tui::model::import::{convert, read_checkpoint};
use std::path::PathBuf;
use std::process::Command;
use tch::{Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pth")
        .join(name)
}

fn values(t: &Tensor) -> Vec<f64> {
    let flat = t.to_kind(Kind::Double).flatten(0, -1);
    Vec::<f64>::try_from(&flat).unwrap()
}

fn check_state_dict(tensors: &[(String, Tensor)]) {
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv.weight",
            "conv.bias",
            "t.weight",
            "row.weight",
            "bn.num_batches_tracked",
            "bf.weight",
            "f64.weight"
        ]
    );
    let get = |name: &str| &tensors.iter().find(|(n, _)| n == name).unwrap().1;
    let w = get("conv.weight");
    assert_eq!((w.kind(), w.size()), (Kind::Float, vec![2, 3]));
    assert_eq!(values(w), [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    let b = get("conv.bias");
    assert_eq!(b.kind(), Kind::Half);
    assert_eq!(values(b), [1.5, -2.0, 0.125]);
    // A transposed view: materialised contiguous, in the view's order.
    let t = get("t.weight");
    assert_eq!(t.size(), vec![4, 3]);
    assert!(t.is_contiguous());
    assert_eq!(
        values(t),
        [0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0]
    );
    // A row of the same storage: a storage offset.
    assert_eq!(values(get("row.weight")), [4.0, 5.0, 6.0, 7.0]);
    let n = get("bn.num_batches_tracked");
    assert_eq!((n.kind(), n.size()), (Kind::Int64, vec![]));
    assert_eq!(n.int64_value(&[]), 7);
    let bf = get("bf.weight");
    assert_eq!(bf.kind(), Kind::BFloat16);
    assert_eq!(values(bf), [0.5, -3.0]);
    let d = get("f64.weight");
    assert_eq!((d.kind(), d.size()), (Kind::Double, vec![2, 1]));
    assert_eq!(values(d), [1e-3, 2.5]);
}

#[test]
fn reads_both_formats_and_wrapped_state_dicts() {
    for name in [
        "legacy_ordereddict.pth",
        "zip_ordereddict.pth",
        "zip_state_dict.pth",
        "legacy_model_key.pth",
        // `state_dict` is a memo reference to the dict under `model`.
        "aliased.pth",
    ] {
        let tensors = read_checkpoint(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
        check_state_dict(&tensors);
    }
}

#[test]
fn converts_to_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.safetensors");
    convert(&fixture("zip_state_dict.pth"), &out).unwrap();
    let mut back = Tensor::read_safetensors(&out).unwrap();
    let order = [
        "conv.weight",
        "conv.bias",
        "t.weight",
        "row.weight",
        "bn.num_batches_tracked",
        "bf.weight",
        "f64.weight",
    ];
    back.sort_by_key(|(n, _)| order.iter().position(|o| o == n));
    check_state_dict(&back);
}

#[test]
fn what_is_not_a_state_dict_is_named() {
    let cases = [
        ("list.pth", "a list of 3"),
        ("module.pth", "torch.nn.modules.linear.Linear"),
        ("no_tensors.pth", "`lr` (a float)"),
        ("make_fixtures.py", "not a PyTorch checkpoint"),
    ];
    for (name, expected) in cases {
        let err = read_checkpoint(&fixture(name)).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(expected), "{err}");
    }
}

#[test]
fn command_line_converts_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.safetensors");
    let run = Command::new(env!("CARGO_BIN_EXE_rifle-tui"))
        .arg("import-weights")
        .arg(fixture("legacy_ordereddict.pth"))
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("wrote 7 tensors"), "{stdout}");
    assert!(out.exists());
    let run = Command::new(env!("CARGO_BIN_EXE_rifle-tui"))
        .arg("import-weights")
        .arg(fixture("module.pth"))
        .arg(dir.path().join("x.safetensors"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("module.pth") && stderr.contains("state_dict"),
        "{stderr}"
    );
}
