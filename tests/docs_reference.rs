//! docs/profiles.md is checked against the schema: every key a profile can hold is
//! documented, and every documented key exists.
use rifle_tui::profile::parse_profile;
use rifle_tui::runs::compare::flatten_yaml;
use std::collections::BTreeSet;
use std::path::Path;

/// Every key of the schema, found by filling every optional field and serialising.
fn schema_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/small-cnn.yaml"),
    )
    .unwrap();
    let mut p = parse_profile(&text, Path::new("profiles/small-cnn.yaml"), &[])
        .unwrap()
        .profile;
    p.description = "d".into();
    p.model.weights = Some("w.safetensors".into());
    p.data.classes = Some(2);
    p.data.train_per_class = Some(1);
    p.data.val_per_class = Some(1);
    p.data.seed = Some(1);
    p.data.root = Some("r".into());
    p.data.resize = Some(64);
    p.data.crop = Some(rifle_tui::profile::schema::CropMode::Resized);
    p.data.min_crop_area = Some(0.5);
    p.data.max_crop_aspect = Some(2.0);
    p.rifle.period_epochs = Some(1.0);
    p.rifle.cycles = Some(2);
    flatten_yaml(&p.to_yaml()).into_keys().collect()
}

fn documented_keys() -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/profiles.md"))
            .unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_profile_key_is_documented_and_nothing_else() {
    let schema = schema_keys();
    let docs = documented_keys();
    assert!(schema.len() > 40, "{schema:?}");
    let undocumented: Vec<_> = schema.difference(&docs).collect();
    let stale: Vec<_> = docs.difference(&schema).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from docs/profiles.md: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/profiles.md documents keys the schema lacks: {stale:?}"
    );
}
