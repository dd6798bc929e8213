//! Syntax highlighting with syntect, off the render path: diff jobs call [`Highlighter::lines`]
//! on a background thread, results are cached by content hash and syntax theme, and drawing only
//! copies the cached spans. The syntax set (two-face: HCL/Terraform, YAML, Rego, ...) loads on
//! first use, so the first frame never waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ratatui::style::Color;
use syntect::easy::HighlightLines;
use syntect::highlighting::ThemeSet;
use syntect::parsing::{SyntaxReference, SyntaxSet};
use syntect::util::LinesWithEndings;

/// A coloured byte range of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlSpan {
    pub start: u32,
    pub end: u32,
    pub fg: Color,
}

pub type Lines = Arc<Vec<Vec<HlSpan>>>;

/// Lines longer than this are shown plain: regex highlighting of minified blobs is slow.
const MAX_LINE: usize = 1000;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(two_face::syntax::extra_newlines)
}

fn themes() -> &'static ThemeSet {
    static SET: OnceLock<ThemeSet> = OnceLock::new();
    SET.get_or_init(ThemeSet::load_defaults)
}

/// The syntax for a file name, by extension (`.tf`, `.yml`, `.rego`, ...).
pub fn syntax_for(file_name: &str) -> Option<&'static SyntaxReference> {
    let ss = syntaxes();
    let ext = file_name.rsplit('.').next().unwrap_or("");
    let ext = match ext {
        "tfvars" | "hcl" => "tf",
        other => other,
    };
    ss.find_syntax_by_extension(ext)
}

#[derive(Default)]
pub struct Highlighter {
    cache: Mutex<HashMap<(String, String), Lines>>,
}

impl Highlighter {
    pub fn new() -> Highlighter {
        Highlighter::default()
    }

    /// Spans for every line of `text`, cached by (SHA-256 of text + file type, theme).
    pub fn lines(&self, text: &str, file_name: &str, theme: &str) -> Lines {
        let ext = file_name.rsplit('.').next().unwrap_or("");
        let key = (
            crate::plan::sha256_hex(format!("{ext}\n{text}").as_bytes()),
            theme.to_string(),
        );
        if let Ok(c) = self.cache.lock()
            && let Some(hit) = c.get(&key)
        {
            return hit.clone();
        }
        let out = Arc::new(highlight(text, file_name, theme));
        if let Ok(mut c) = self.cache.lock() {
            // Diffs of a session are few; a crude bound keeps a long session from growing.
            if c.len() > 64 {
                c.clear();
            }
            c.insert(key, out.clone());
        }
        out
    }

    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

fn highlight(text: &str, file_name: &str, theme: &str) -> Vec<Vec<HlSpan>> {
    let n = text.lines().count();
    let (Some(syntax), Some(th)) = (syntax_for(file_name), themes().themes.get(theme)) else {
        return vec![Vec::new(); n];
    };
    let ss = syntaxes();
    let mut h = HighlightLines::new(syntax, th);
    let mut out = Vec::with_capacity(n);
    for line in LinesWithEndings::from(text) {
        if line.len() > MAX_LINE {
            out.push(Vec::new());
            continue;
        }
        let Ok(regions) = h.highlight_line(line, ss) else {
            out.push(Vec::new());
            continue;
        };
        let mut spans = Vec::new();
        let mut pos = 0u32;
        let body = line.trim_end_matches(['\n', '\r']).len() as u32;
        for (style, piece) in regions {
            let start = pos;
            pos += piece.len() as u32;
            let end = pos.min(body);
            if end > start {
                let c = style.foreground;
                spans.push(HlSpan {
                    start,
                    end,
                    fg: Color::Rgb(c.r, c.g, c.b),
                });
            }
        }
        out.push(spans);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_yaml_and_rego_are_recognised() {
        assert!(syntax_for("main.tf").is_some(), "tf");
        assert!(syntax_for("site.yml").is_some(), "yml");
        assert!(syntax_for("policy.rego").is_some(), "rego");
    }

    #[test]
    fn highlights_and_caches() {
        let h = Highlighter::new();
        let text = "resource \"aws_instance\" \"web\" {\n  count = 3\n}\n";
        let a = h.lines(text, "main.tf", "base16-ocean.dark");
        assert_eq!(a.len(), 3);
        assert!(!a[0].is_empty());
        let b = h.lines(text, "main.tf", "base16-ocean.dark");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(h.cached(), 1);
    }
}
