//! Where a key sits in the profile text.
//!
//! serde only reports a location for the first error it meets, and none at all for range
//! errors found after deserialisation. This small scanner of block-style YAML mappings (the
//! style profiles are written in) maps every dotted key path to its line and column so each
//! error can point at its own line. Flow style (`{a: 1}`) is not indexed: lookups into it
//! return `None` and the caller falls back to the nearest indexed ancestor.

/// 1-based line and column, as editors and compilers count them (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One key of a block mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Dotted path from the document root, e.g. `train.optimizer.lr`.
    pub path: String,
    /// Where the key itself starts.
    pub key: Pos,
    /// Where its value starts when the value is on the same line.
    pub value: Option<Pos>,
}

/// Every block-mapping key of `text`, in document order (duplicates included).
pub fn index(text: &str) -> Vec<KeyEntry> {
    let mut entries = Vec::new();
    // (indent, key) of the mappings that enclose the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    // Lines more indented than this belong to the previous key's scalar or flow value.
    let mut continuation_of: Option<usize> = None;
    for (line_no, raw) in text.lines().enumerate() {
        let indent = raw.chars().take_while(|&c| c == ' ').count();
        let content: String = raw.chars().skip(indent).collect();
        let content = content.trim_end();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(parent_indent) = continuation_of {
            if indent > parent_indent {
                continue;
            }
            continuation_of = None;
        }
        if indent == 0 && (content.starts_with("---") || content.starts_with("...")) {
            // A document marker: profiles hold one document, start it afresh.
            stack.clear();
            continue;
        }
        if content.starts_with('%') || content.starts_with('-') || content.starts_with('?') {
            // Directives, sequence items and complex keys carry no indexable key.
            continue;
        }
        let Some((key, value_offset)) = split_key(content) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut path: String = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .collect::<Vec<_>>()
            .join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key);
        let rest = &content[value_offset..];
        let value_text = rest.trim_start();
        let value_col = indent + content[..value_offset].chars().count() + 1;
        let value_col = value_col + (rest.chars().count() - value_text.chars().count());
        let opens_block = value_opens_block(value_text);
        entries.push(KeyEntry {
            path,
            key: Pos {
                line: line_no + 1,
                column: indent + 1,
            },
            value: (!opens_block).then_some(Pos {
                line: line_no + 1,
                column: value_col,
            }),
        });
        if opens_block {
            stack.push((indent, key));
        } else {
            continuation_of = Some(indent);
        }
    }
    entries
}

/// Position of the key at dotted `key_path` (its first occurrence), if block style.
pub fn locate(text: &str, key_path: &str) -> Option<(usize, usize)> {
    index(text)
        .into_iter()
        .find(|e| e.path == key_path)
        .map(|e| (e.key.line, e.key.column))
}

/// The first key given twice in the same mapping: (the repeat, the first occurrence).
pub fn first_duplicate(entries: &[KeyEntry]) -> Option<(&KeyEntry, &KeyEntry)> {
    // A key path only repeats legitimately when its parent was itself repeated, which is
    // already a duplicate found earlier, so the first repeat is the one to report.
    entries.iter().enumerate().find_map(|(i, e)| {
        entries[..i]
            .iter()
            .find(|earlier| earlier.path == e.path)
            .map(|earlier| (e, earlier))
    })
}

/// Splits `key: value` into the key (unquoted) and the byte offset just past the colon.
fn split_key(content: &str) -> Option<(String, usize)> {
    let first = content.chars().next()?;
    if first == '"' || first == '\'' {
        let close = content[1..].find(first)? + 1;
        let after = content[close + 1..].trim_start();
        let colon = content.len() - after.len();
        if !after.starts_with(':') || !ends_key(&after[1..]) {
            return None;
        }
        return Some((content[1..close].to_string(), colon + 1));
    }
    if matches!(first, '{' | '[' | '&' | '*' | '!' | '|' | '>') {
        return None;
    }
    let mut search = 0;
    while let Some(found) = content[search..].find(':') {
        let colon = search + found;
        if ends_key(&content[colon + 1..]) {
            let key = content[..colon].trim_end();
            if key.contains(" #") {
                return None;
            }
            return Some((key.to_string(), colon + 1));
        }
        search = colon + 1;
    }
    None
}

/// A colon ends a plain key only when followed by a space, a tab or the end of the line.
fn ends_key(after_colon: &str) -> bool {
    after_colon.is_empty() || after_colon.starts_with([' ', '\t'])
}

/// True when the value part leaves the key's children to the following lines: nothing,
/// a comment, or only an anchor / tag.
fn value_opens_block(value: &str) -> bool {
    let value = match value.find(" #") {
        Some(i) => &value[..i],
        None if value.starts_with('#') => "",
        None => value,
    };
    value
        .split_whitespace()
        .all(|w| w.starts_with('&') || w.starts_with('!'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment: with a colon
name: demo
model:
  arch: small_cnn   # trailing: comment
  weights: \"w: x.ot\"
description: |
  not: a key
  still: text
train:
  epochs: 3
  optimizer:
    lr: 0.1
    betas:
      - 0.9
      - 0.99
  'batch_size': 8
rifle: {enabled: true}
data: &d
  source: synthetic
";

    #[test]
    fn finds_nested_keys_with_one_based_positions() {
        assert_eq!(locate(TEXT, "name"), Some((2, 1)));
        assert_eq!(locate(TEXT, "model.arch"), Some((4, 3)));
        assert_eq!(locate(TEXT, "train.optimizer.lr"), Some((12, 5)));
        assert_eq!(locate(TEXT, "train.optimizer.betas"), Some((13, 5)));
        assert_eq!(locate(TEXT, "train.batch_size"), Some((16, 3)));
        assert_eq!(locate(TEXT, "data.source"), Some((19, 3)));
    }

    #[test]
    fn block_scalars_and_flow_values_hide_their_content() {
        assert_eq!(locate(TEXT, "description.not"), None);
        assert_eq!(locate(TEXT, "not"), None);
        assert_eq!(locate(TEXT, "rifle"), Some((17, 1)));
        assert_eq!(locate(TEXT, "rifle.enabled"), None);
        assert_eq!(locate(TEXT, "missing.key"), None);
    }

    #[test]
    fn value_positions_point_past_the_colon() {
        let entries = index(TEXT);
        let arch = entries.iter().find(|e| e.path == "model.arch").unwrap();
        assert_eq!(arch.value, Some(Pos { line: 4, column: 9 }));
        let model = entries.iter().find(|e| e.path == "model").unwrap();
        assert_eq!(model.value, None);
    }

    #[test]
    fn finds_the_repeated_key() {
        let text = "train:\n  epochs: 3\n  batch_size: 2\n  epochs: 4\nrifle:\n  epochs: 1\n";
        let entries = index(text);
        let (again, first) = first_duplicate(&entries).unwrap();
        assert_eq!(again.path, "train.epochs");
        assert_eq!((again.key.line, first.key.line), (4, 2));
        assert!(first_duplicate(&index(TEXT)).is_none());
    }
}
