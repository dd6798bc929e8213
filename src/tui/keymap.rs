//! Keys as data: `keymap.toml` (compiled in) maps keys to [`Action`]s per context; a
//! `keymap.toml` in the config dir overrides single bindings. The help screen and the key hints
//! are generated from this table, so they never drift from what the keys do.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;

pub const DEFAULT: &str = include_str!("keymap.toml");

/// The contexts, in the order the help screen lists them.
pub const CONTEXTS: [&str; 9] = [
    "global",
    "prompt",
    "conversation",
    "preview",
    "diff",
    "approvals",
    "audit",
    "reports",
    "library",
];

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("keymap {origin}: {detail}")]
    Invalid { origin: String, detail: String },
}

/// A key with its modifiers, normalised (shift is folded into characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub code: KeyCode2,
    pub ctrl: bool,
    pub alt: bool,
}

/// KeyCode without the variants a keymap cannot name, and orderable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyCode2 {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

impl Key {
    pub fn from_event(k: &KeyEvent) -> Option<Key> {
        let code = match k.code {
            KeyCode::Char(c) => KeyCode2::Char(c),
            KeyCode::F(n) => KeyCode2::F(n),
            KeyCode::Enter => KeyCode2::Enter,
            KeyCode::Esc => KeyCode2::Esc,
            KeyCode::Tab if k.modifiers.contains(KeyModifiers::SHIFT) => KeyCode2::BackTab,
            KeyCode::Tab => KeyCode2::Tab,
            KeyCode::BackTab => KeyCode2::BackTab,
            KeyCode::Backspace => KeyCode2::Backspace,
            KeyCode::Delete => KeyCode2::Delete,
            KeyCode::Up => KeyCode2::Up,
            KeyCode::Down => KeyCode2::Down,
            KeyCode::Left => KeyCode2::Left,
            KeyCode::Right => KeyCode2::Right,
            KeyCode::PageUp => KeyCode2::PageUp,
            KeyCode::PageDown => KeyCode2::PageDown,
            KeyCode::Home => KeyCode2::Home,
            KeyCode::End => KeyCode2::End,
            _ => return None,
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        // Shift is already in the character ('G'); with ctrl, terminals differ, so fold case.
        Some(Key {
            code: match code {
                KeyCode2::Char(c) if ctrl => KeyCode2::Char(c.to_ascii_lowercase()),
                other => other,
            },
            ctrl,
            alt: k.modifiers.contains(KeyModifiers::ALT),
        })
    }

    pub fn parse(s: &str) -> Option<Key> {
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-") {
                shift = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode2::Enter,
            "esc" => KeyCode2::Esc,
            "tab" if shift => KeyCode2::BackTab,
            "tab" => KeyCode2::Tab,
            "backtab" => KeyCode2::BackTab,
            "backspace" => KeyCode2::Backspace,
            "delete" => KeyCode2::Delete,
            "up" => KeyCode2::Up,
            "down" => KeyCode2::Down,
            "left" => KeyCode2::Left,
            "right" => KeyCode2::Right,
            "pageup" => KeyCode2::PageUp,
            "pagedown" => KeyCode2::PageDown,
            "home" => KeyCode2::Home,
            "end" => KeyCode2::End,
            "space" => KeyCode2::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => KeyCode2::F(f[1..].parse().ok()?),
            c if c.chars().count() == 1 => {
                let ch = c.chars().next()?;
                KeyCode2::Char(if shift { ch.to_ascii_uppercase() } else { ch })
            }
            _ => return None,
        };
        Some(Key { code, ctrl, alt })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode2::Char(' ') => "space".to_string(),
            KeyCode2::Char(c) => c.to_string(),
            KeyCode2::F(n) => format!("F{n}"),
            KeyCode2::Enter => "enter".into(),
            KeyCode2::Esc => "esc".into(),
            KeyCode2::Tab => "tab".into(),
            KeyCode2::BackTab => "shift-tab".into(),
            KeyCode2::Backspace => "bksp".into(),
            KeyCode2::Delete => "del".into(),
            KeyCode2::Up => "↑".into(),
            KeyCode2::Down => "↓".into(),
            KeyCode2::Left => "←".into(),
            KeyCode2::Right => "→".into(),
            KeyCode2::PageUp => "pgup".into(),
            KeyCode2::PageDown => "pgdn".into(),
            KeyCode2::Home => "home".into(),
            KeyCode2::End => "end".into(),
        };
        let mut out = String::new();
        if self.ctrl {
            out.push_str("ctrl-");
        }
        if self.alt {
            out.push_str("alt-");
        }
        out.push_str(&base);
        out
    }
}

#[derive(Debug, Clone, Default)]
pub struct Keymap {
    /// context → key → action
    map: BTreeMap<String, BTreeMap<Key, Action>>,
}

impl Keymap {
    pub fn defaults() -> Result<Keymap, KeymapError> {
        let mut k = Keymap::default();
        k.merge("built-in keymap.toml", DEFAULT)?;
        Ok(k)
    }

    /// Defaults plus the user's `config_dir/keymap.toml`, if there is one.
    pub fn load(config_dir: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut k = Keymap::defaults()?;
        if let Some(path) = config_dir.map(|d| d.join("keymap.toml"))
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            k.merge(&path.display().to_string(), &text)?;
        }
        Ok(k)
    }

    pub fn merge(&mut self, origin: &str, text: &str) -> Result<(), KeymapError> {
        let invalid = |detail: String| KeymapError::Invalid {
            origin: origin.to_string(),
            detail,
        };
        let raw: BTreeMap<String, BTreeMap<String, String>> =
            toml::from_str(text).map_err(|e| invalid(e.to_string().replace('\n', " ")))?;
        for (ctx, binds) in raw {
            if !CONTEXTS.contains(&ctx.as_str()) {
                return Err(invalid(format!(
                    "unknown section [{ctx}] (known: {})",
                    CONTEXTS.join(", ")
                )));
            }
            let section = self.map.entry(ctx.clone()).or_default();
            for (key, action) in binds {
                let k = Key::parse(&key)
                    .ok_or_else(|| invalid(format!("[{ctx}] '{key}' is not a key name")))?;
                if action == "none" {
                    section.remove(&k);
                    continue;
                }
                let a: Action =
                    serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                        serde::de::value::Error,
                    >::new(&action))
                    .map_err(|_| invalid(format!("[{ctx}] '{key}': unknown action '{action}'")))?;
                section.insert(k, a);
            }
        }
        Ok(())
    }

    /// The action bound to `key` in `context`, else in `global` (never for the prompt, whose
    /// unbound keys are typing).
    pub fn lookup(&self, context: &str, key: &Key) -> Option<Action> {
        if let Some(a) = self.map.get(context).and_then(|m| m.get(key)) {
            return Some(a.clone());
        }
        if context == "prompt" {
            return None;
        }
        self.map.get("global").and_then(|m| m.get(key)).cloned()
    }

    /// Bindings of one context, for help and hints: (key label, action).
    pub fn bindings(&self, context: &str) -> Vec<(String, Action)> {
        self.map
            .get(context)
            .map(|m| m.iter().map(|(k, a)| (k.label(), a.clone())).collect())
            .unwrap_or_default()
    }

    /// The first key bound to `action` in `context` (or global), for hints.
    pub fn key_for(&self, context: &str, action: &Action) -> Option<String> {
        for ctx in [context, "global"] {
            if let Some(m) = self.map.get(ctx) {
                let mut keys: Vec<String> = m
                    .iter()
                    .filter(|(_, a)| *a == action)
                    .map(|(k, _)| k.label())
                    .collect();
                // Prefer the short, memorable key (a letter) over arrows and names.
                keys.sort_by_key(|k| (k.chars().count() > 1, k.clone()));
                if let Some(k) = keys.into_iter().next() {
                    return Some(k);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keymap_parses_and_binds_the_basics() {
        let k = Keymap::defaults().unwrap();
        let q = Key::parse("q").unwrap();
        assert_eq!(k.lookup("audit", &q), Some(Action::Quit));
        assert_eq!(k.lookup("prompt", &q), None);
        let n = Key::parse("n").unwrap();
        assert_eq!(k.lookup("diff", &n), Some(Action::NextHunk));
        assert_eq!(
            k.lookup("prompt", &Key::parse("ctrl-c").unwrap()),
            Some(Action::Quit)
        );
    }

    #[test]
    fn user_file_overrides_and_unbinds() {
        let mut k = Keymap::defaults().unwrap();
        k.merge(
            "test",
            "[approvals]\n\"y\" = \"approve\"\n\"a\" = \"none\"\n",
        )
        .unwrap();
        assert_eq!(
            k.lookup("approvals", &Key::parse("y").unwrap()),
            Some(Action::Approve)
        );
        assert_eq!(k.lookup("approvals", &Key::parse("a").unwrap()), None);
        assert!(k.merge("test", "[nope]\n\"a\" = \"quit\"\n").is_err());
        assert!(k.merge("test", "[global]\n\"a\" = \"explode\"\n").is_err());
    }
}
