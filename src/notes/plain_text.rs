//! The searchable plain text of a note's `content`.
//!
//! BlockNote stores a document as an array of blocks `{id, type, props, content, children}`
//! where `content` is an array of inline items (`{type: "text", text, styles}`, links with
//! their own `content`, or a table's `rows` of `cells`). Each block becomes one line, nested
//! blocks follow their parent. Any other JSON contributes its string values, one per line.

use serde_json::Value;

/// Derive the plain text of a note's content.
pub fn plain_text(content: &Value) -> String {
    let mut out = String::new();
    match content {
        Value::Array(blocks) if !blocks.is_empty() && blocks.iter().all(is_block) => {
            for block in blocks {
                block_text(block, &mut out);
            }
        }
        other => string_leaves(other, &mut out),
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

fn is_block(v: &Value) -> bool {
    v.get("type").is_some_and(Value::is_string)
}

fn block_text(block: &Value, out: &mut String) {
    let mut line = String::new();
    if let Some(content) = block.get("content") {
        inline_text(content, &mut line);
    }
    let line = line.trim();
    if !line.is_empty() {
        out.push_str(line);
        out.push('\n');
    }
    if let Some(Value::Array(children)) = block.get("children") {
        for child in children.iter().filter(|c| c.is_object()) {
            block_text(child, out);
        }
    }
}

fn push_separated(line: &mut String, text: &str) {
    if !line.is_empty() && !line.ends_with(char::is_whitespace) {
        line.push(' ');
    }
    line.push_str(text);
}

fn inline_text(v: &Value, line: &mut String) {
    match v {
        Value::String(s) => line.push_str(s),
        Value::Array(items) => items.iter().for_each(|i| inline_text(i, line)),
        Value::Object(o) => {
            if let Some(Value::String(t)) = o.get("text") {
                line.push_str(t);
            }
            if let Some(c) = o.get("content") {
                inline_text(c, line);
            }
            // Table content: rows of cells; keep cells apart as words.
            for key in ["rows", "cells"] {
                if let Some(Value::Array(parts)) = o.get(key) {
                    for part in parts {
                        let mut cell = String::new();
                        inline_text(part, &mut cell);
                        if !cell.trim().is_empty() {
                            push_separated(line, cell.trim());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn string_leaves(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() {
                out.push_str(s);
                out.push('\n');
            }
        }
        Value::Array(items) => items.iter().for_each(|i| string_leaves(i, out)),
        Value::Object(o) => o.values().for_each(|i| string_leaves(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::plain_text;

    #[test]
    fn blocknote_blocks_lines_and_children() {
        let doc = json!([
            {"id": "1", "type": "heading", "props": {"level": 1, "textColor": "default"},
             "content": [{"type": "text", "text": "Trip ", "styles": {"bold": true}},
                         {"type": "text", "text": "plan", "styles": {}}],
             "children": [
                {"id": "2", "type": "bulletListItem", "props": {},
                 "content": [{"type": "link", "href": "https://example.com",
                              "content": [{"type": "text", "text": "book flights", "styles": {}}]}],
                 "children": []}
             ]},
            {"id": "3", "type": "paragraph", "props": {}, "content": [], "children": []},
            {"id": "4", "type": "table", "props": {},
             "content": {"type": "tableContent", "rows": [
                {"cells": [[{"type": "text", "text": "day", "styles": {}}],
                           {"type": "tableCell", "content": [{"type": "text", "text": "city", "styles": {}}]}]}
             ]}, "children": []}
        ]);
        assert_eq!(plain_text(&doc), "Trip plan\nbook flights\nday city");
    }

    #[test]
    fn other_json_collects_strings() {
        assert_eq!(
            plain_text(&json!({"a": "one", "b": [2, "two", {"c": "three"}], "d": null})),
            "one\ntwo\nthree"
        );
        assert_eq!(plain_text(&json!("just text")), "just text");
        assert_eq!(plain_text(&json!([])), "");
        assert_eq!(plain_text(&json!(42)), "");
    }
}
