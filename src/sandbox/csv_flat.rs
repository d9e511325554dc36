//! The CSV form of a snapshot, written the way the provider writes its CSV files.
//!
//! Nested keys are joined with `_` (`ip.v4` → `ip_v4`, `score.total` → `score_total`),
//! every value is double-quoted, lists are written as Python lists (`['malware', 'c2']`),
//! `null` is an empty cell and there is one header row. Columns keep the order in which
//! their keys first appear in the records, so `serde_json`'s sorted maps are not used.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// A JSON value whose object keys keep their order.
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// The CSV of an NDJSON snapshot.
pub(super) fn to_csv(ndjson: &str) -> Vec<u8> {
    let rows: Vec<Vec<(String, String)>> = ndjson
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let node: Node = serde_json::from_str(line).expect("embedded records are valid JSON");
            let mut cells = Vec::new();
            flatten("", node, &mut cells);
            cells
        })
        .collect();

    let mut columns = Vec::new();
    let mut seen = HashSet::new();
    for (column, _) in rows.iter().flatten() {
        if seen.insert(column.as_str()) {
            columns.push(column.as_str());
        }
    }

    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer
        .write_record(&columns)
        .expect("writing to a Vec cannot fail");
    for row in &rows {
        let cells: HashMap<&str, &str> = row
            .iter()
            .map(|(column, cell)| (column.as_str(), cell.as_str()))
            .collect();
        writer
            .write_record(
                columns
                    .iter()
                    .map(|column| cells.get(column).unwrap_or(&"")),
            )
            .expect("writing to a Vec cannot fail");
    }
    writer.into_inner().expect("writing to a Vec cannot fail")
}

/// Flattens nested objects into `parent_child` columns.
fn flatten(prefix: &str, node: Node, cells: &mut Vec<(String, String)>) {
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                let column = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}_{key}")
                };
                flatten(&column, value, cells);
            }
        }
        Node::Null => cells.push((prefix.to_owned(), String::new())),
        Node::Str(text) => cells.push((prefix.to_owned(), text)),
        other => cells.push((prefix.to_owned(), python_repr(&other))),
    }
}

/// How Python's `repr` writes a value: lists as `['a', 'b']`, `True`, `None`.
fn python_repr(node: &Node) -> String {
    match node {
        Node::Null => "None".to_owned(),
        Node::Bool(true) => "True".to_owned(),
        Node::Bool(false) => "False".to_owned(),
        Node::Number(number) => number.to_string(),
        Node::Str(text) => python_str(text),
        Node::List(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Node::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("{}: {}", python_str(key), python_repr(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A Python string literal: single quotes unless the text holds a single quote and no
/// double quote.
fn python_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_are_joined_and_lists_written_as_python_lists() {
        let csv = to_csv(concat!(
            r#"{"ip": {"v4": "1.0.138.22", "num": 16812566}, "tags": {"str": ["generic", "phishing"]}, "fp": {"descr": null}}"#,
            "\n",
            r#"{"ip": {"v4": "1.0.138.229", "num": 16812773}, "tags": {"str": ["it's"]}, "extra": [-1]}"#,
            "\n",
        ));
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            concat!(
                "\"ip_v4\",\"ip_num\",\"tags_str\",\"fp_descr\",\"extra\"\n",
                "\"1.0.138.22\",\"16812566\",\"['generic', 'phishing']\",\"\",\"\"\n",
                "\"1.0.138.229\",\"16812773\",\"[\"\"it's\"\"]\",\"\",\"[-1]\"\n",
            )
        );
    }
}
