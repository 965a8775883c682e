//! Editing one key of a profile's YAML text. The key's line is rewritten in place so the
//! file keeps its comments and layout; a key the file lacks is added through the YAML tree
//! (which loses comments, the accepted price).
use crate::profile::locate;
use serde_norway::{Mapping, Value};

/// `text` with `key` (dotted) set to `value` (YAML scalar text); an empty value removes it.
pub fn set_value(text: &str, key: &str, value: &str) -> String {
    let value = value.trim();
    let entry = locate::index(text).into_iter().find(|e| e.path == key);
    if let Some(entry) = entry {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let i = entry.key.line - 1;
        if value.is_empty() {
            lines.remove(i);
            return join(lines, text);
        }
        if let Some(pos) = entry.value {
            let line = &lines[i];
            let start: usize = line.chars().take(pos.column - 1).map(char::len_utf8).sum();
            let rest = &line[start..];
            // Keep the comment and the spaces before it, so columns of comments stay aligned.
            let end = rest
                .find(" #")
                .map(|c| rest[..c].trim_end().len())
                .unwrap_or(rest.len());
            let comment = rest[end..].to_string();
            lines[i] = format!("{}{value}{comment}", &line[..start]);
            return join(lines, text);
        }
    }
    if value.is_empty() {
        return text.to_string();
    }
    set_in_tree(text, key, value).unwrap_or_else(|| text.to_string())
}

fn join(lines: Vec<String>, original: &str) -> String {
    let mut out = lines.join("\n");
    if original.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn set_in_tree(text: &str, key: &str, value: &str) -> Option<String> {
    let mut root: Value = serde_norway::from_str(text).ok()?;
    if root.is_null() {
        root = Value::Mapping(Mapping::new());
    }
    let parsed: Value =
        serde_norway::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = &mut root;
    for (n, part) in parts.iter().enumerate() {
        let map = node.as_mapping_mut()?;
        let k = Value::String(part.to_string());
        if n + 1 == parts.len() {
            map.insert(k, parsed);
            break;
        }
        if !map.contains_key(&k) {
            map.insert(k.clone(), Value::Mapping(Mapping::new()));
        }
        node = map.get_mut(&k)?;
    }
    serde_norway::to_string(&root).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_in_place_and_keeps_comments() {
        let text = "train:\n  epochs: 24   # long\n  batch_size: 32\n";
        assert_eq!(
            set_value(text, "train.epochs", "6"),
            "train:\n  epochs: 6   # long\n  batch_size: 32\n"
        );
        assert_eq!(
            set_value(text, "train.batch_size", ""),
            "train:\n  epochs: 24   # long\n"
        );
    }

    #[test]
    fn adds_a_missing_key() {
        let text = "train:\n  epochs: 24\n";
        let out = set_value(text, "rifle.period_epochs", "2.5");
        let v: Value = serde_norway::from_str(&out).unwrap();
        assert_eq!(v["rifle"]["period_epochs"], Value::from(2.5));
        assert_eq!(v["train"]["epochs"], Value::from(24));
    }
}
