//! Colours by meaning. Widgets ask for [`Meaning::RiskHigh`] or [`Meaning::DiffAdd`], never for
//! "red". Themes are TOML files in `themes/` compiled in; a file of the same name in
//! `<config dir>/themes/` overrides a built-in key by key, and a new name adds a theme.
//! `NO_COLOR` keeps the modifiers (bold, reverse, underline) and drops every colour, so meaning
//! never depends on colour alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::plan::{GateResult, Risk};

pub const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

macro_rules! meanings {
    ($($variant:ident => $key:literal),* $(,)?) => {
        /// What a piece of the screen means; themes map each to a style.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Meaning { $($variant),* }
        impl Meaning {
            pub const ALL: &'static [Meaning] = &[$(Meaning::$variant),*];
            pub fn key(self) -> &'static str {
                match self { $(Meaning::$variant => $key),* }
            }
        }
    };
}

meanings! {
    Text => "text",
    Muted => "muted",
    Border => "border",
    BorderFocused => "border_focused",
    Title => "title",
    Selection => "selection",
    Prompt => "prompt",
    Request => "request",
    Progress => "progress",
    Output => "output",
    Error => "error",
    Success => "success",
    Code => "code",
    RiskLow => "risk_low",
    RiskMedium => "risk_medium",
    RiskHigh => "risk_high",
    RiskCritical => "risk_critical",
    GatePass => "gate_pass",
    GateInfo => "gate_info",
    GateWarn => "gate_warn",
    GateDeny => "gate_deny",
    DiffAdd => "diff_add",
    DiffRemove => "diff_remove",
    DiffContext => "diff_context",
    DiffHunk => "diff_hunk",
    DiffFile => "diff_file",
    DiffLineNo => "diff_line_no",
    SearchMatch => "search_match",
    StatusBar => "status_bar",
    StatusKey => "status_key",
    Production => "production",
    Spinner => "spinner",
    TabActive => "tab_active",
    Tab => "tab",
    Overlay => "overlay",
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    name: Option<String>,
    /// A syntect theme for code (`base16-ocean.dark`, `InspiredGitHub`, ...).
    #[serde(default)]
    syntax_theme: Option<String>,
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme {name}: {detail}")]
    Invalid { name: String, detail: String },
    #[error(
        "no theme named '{0}' (built in: dark, light, high-contrast; or add <config dir>/themes/{0}.toml)"
    )]
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    pub syntax_theme: String,
    pub no_color: bool,
    styles: Vec<Style>,
}

impl Theme {
    pub fn get(&self, m: Meaning) -> Style {
        self.styles.get(m as usize).copied().unwrap_or_default()
    }

    pub fn risk(&self, r: Risk) -> Style {
        self.get(match r {
            Risk::Low => Meaning::RiskLow,
            Risk::Medium => Meaning::RiskMedium,
            Risk::High => Meaning::RiskHigh,
            Risk::Critical => Meaning::RiskCritical,
        })
    }

    pub fn gate(&self, g: GateResult) -> Style {
        self.get(match g {
            GateResult::Pass => Meaning::GatePass,
            GateResult::Info => Meaning::GateInfo,
            GateResult::Warn => Meaning::GateWarn,
            GateResult::Deny => Meaning::GateDeny,
        })
    }

    pub fn border(&self, focused: bool) -> Style {
        self.get(if focused {
            Meaning::BorderFocused
        } else {
            Meaning::Border
        })
    }

    /// A built-in theme (falls back to dark for keys it does not set).
    pub fn builtin(name: &str, no_color: bool) -> Result<Theme, ThemeError> {
        Theme::load(name, None, no_color)
    }

    /// Loads `name`: built-in dark as the base, then the built-in of that name, then the user's
    /// file of that name in `config_dir/themes/`.
    pub fn load(
        name: &str,
        config_dir: Option<&Path>,
        no_color: bool,
    ) -> Result<Theme, ThemeError> {
        let parse = |name: &str, text: &str| -> Result<ThemeFile, ThemeError> {
            toml::from_str(text).map_err(|e| ThemeError::Invalid {
                name: name.to_string(),
                detail: e.to_string().replace('\n', " "),
            })
        };
        let mut layers = vec![parse("dark", BUILTIN[0].1)?];
        let builtin = BUILTIN.iter().find(|(n, _)| *n == name);
        if let Some((n, text)) = builtin
            && *n != "dark"
        {
            layers.push(parse(n, text)?);
        }
        let user = config_dir
            .map(|d| d.join("themes").join(format!("{name}.toml")))
            .and_then(|p| std::fs::read_to_string(p).ok());
        let found_user = user.is_some();
        if let Some(text) = user {
            layers.push(parse(name, &text)?);
        }
        if builtin.is_none() && !found_user {
            return Err(ThemeError::Unknown(name.to_string()));
        }
        let mut syntax_theme = "base16-ocean.dark".to_string();
        let mut specs: BTreeMap<String, StyleSpec> = BTreeMap::new();
        for l in layers {
            if let Some(s) = l.syntax_theme {
                syntax_theme = s;
            }
            // `name` is for people reading the file; the file name is what selects it.
            let _ = l.name;
            specs.extend(l.styles);
        }
        let mut styles = Vec::with_capacity(Meaning::ALL.len());
        for m in Meaning::ALL {
            let spec = specs.get(m.key()).cloned().unwrap_or_default();
            styles.push(to_style(name, m.key(), &spec, no_color)?);
        }
        if let Some(unknown) = specs
            .keys()
            .find(|k| !Meaning::ALL.iter().any(|m| m.key() == k.as_str()))
        {
            return Err(ThemeError::Invalid {
                name: name.to_string(),
                detail: format!("unknown style key '{unknown}'"),
            });
        }
        Ok(Theme {
            name: name.to_string(),
            syntax_theme,
            no_color,
            styles,
        })
    }
}

fn to_style(theme: &str, key: &str, s: &StyleSpec, no_color: bool) -> Result<Style, ThemeError> {
    let color = |c: &Option<String>| -> Result<Option<Color>, ThemeError> {
        match c {
            None => Ok(None),
            Some(c) => Color::from_str(c)
                .map(Some)
                .map_err(|_| ThemeError::Invalid {
                    name: theme.to_string(),
                    detail: format!(
                        "{key}: '{c}' is not a colour (a name like \"red\", or \"#rrggbb\")"
                    ),
                }),
        }
    };
    let mut style = Style::default();
    if !no_color {
        if let Some(fg) = color(&s.fg)? {
            style = style.fg(fg);
        }
        if let Some(bg) = color(&s.bg)? {
            style = style.bg(bg);
        }
    } else {
        // Still validate, so a broken theme is reported the same way with NO_COLOR set.
        color(&s.fg)?;
        color(&s.bg)?;
    }
    let mut m = Modifier::empty();
    for (on, bit) in [
        (s.bold, Modifier::BOLD),
        (s.italic, Modifier::ITALIC),
        (s.underline, Modifier::UNDERLINED),
        (s.reversed, Modifier::REVERSED),
        (s.dim, Modifier::DIM),
    ] {
        if on {
            m |= bit;
        }
    }
    Ok(style.add_modifier(m))
}

/// Whether `NO_COLOR` asks for no colour (any non-empty value, per no-color.org).
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_loads_and_sets_every_meaning() {
        for (name, text) in BUILTIN {
            let f: ThemeFile = toml::from_str(text).unwrap();
            for m in Meaning::ALL {
                assert!(f.styles.contains_key(m.key()), "{name} lacks {}", m.key());
            }
            Theme::builtin(name, false).unwrap();
            Theme::builtin(name, true).unwrap();
        }
    }

    #[test]
    fn no_color_keeps_modifiers_only() {
        let t = Theme::builtin("dark", true).unwrap();
        let s = t.get(Meaning::RiskCritical);
        assert_eq!(s.fg, None);
        assert!(s.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn user_file_overrides_by_key_and_unknown_names_fail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/dark.toml"),
            "[styles]\nrisk_high = { fg = \"#ff00ff\" }\n",
        )
        .unwrap();
        let t = Theme::load("dark", Some(dir.path()), false).unwrap();
        assert_eq!(t.get(Meaning::RiskHigh).fg, Some(Color::Rgb(255, 0, 255)));
        assert!(t.get(Meaning::DiffAdd).fg.is_some());
        assert!(matches!(
            Theme::load("nope", Some(dir.path()), false),
            Err(ThemeError::Unknown(_))
        ));
    }
}
