//! What differs between runs: the profile keys that are not the same everywhere.
use std::collections::BTreeMap;

/// Flattens a YAML document into `dotted.key -> value` text.
pub fn flatten_yaml(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(v) = serde_norway::from_str::<serde_norway::Value>(text) {
        walk("", &v, &mut out);
    }
    out
}

fn walk(prefix: &str, v: &serde_norway::Value, out: &mut BTreeMap<String, String>) {
    use serde_norway::Value;
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => scalar(other),
                };
                let path = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&path, child, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), scalar(other));
        }
    }
}

fn scalar(v: &serde_norway::Value) -> String {
    use serde_norway::Value;
    match v {
        Value::Null => "~".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .replace('\n', " "),
    }
}

/// Keys whose value is not the same in every profile, with each profile's value
/// (`-` where a profile lacks the key). Run-identity keys (`name`, `description`) are left
/// out: they always differ and say nothing about the training.
pub fn differing_keys(profiles: &[BTreeMap<String, String>]) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<&String> = profiles.iter().flat_map(|p| p.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| *k != "name" && *k != "description")
        .filter_map(|k| {
            let values: Vec<String> = profiles
                .iter()
                .map(|p| p.get(k).cloned().unwrap_or_else(|| "-".into()))
                .collect();
            (values.iter().any(|v| *v != values[0])).then(|| (k.clone(), values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_differences_are_listed() {
        let a = flatten_yaml("name: a\ntrain:\n  epochs: 6\n  lr: 0.1\nrifle:\n  enabled: true\n");
        let b = flatten_yaml(
            "name: b\ntrain:\n  epochs: 6\n  lr: 0.1\nrifle:\n  enabled: false\n  cycles: 3\n",
        );
        let d = differing_keys(&[a, b]);
        assert_eq!(
            d,
            vec![
                (
                    "rifle.cycles".to_string(),
                    vec!["-".to_string(), "3".to_string()]
                ),
                (
                    "rifle.enabled".to_string(),
                    vec!["true".to_string(), "false".to_string()]
                ),
            ]
        );
    }
}
