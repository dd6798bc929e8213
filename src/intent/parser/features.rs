//! Everything the scorer and the extractors ask about a request, gathered in one pass over its
//! tokens: verbs and nouns with their places, packages, and whether a word names an engine or a
//! runtime rather than software to install.

use super::shapes::runtime_for_language;
use super::tokens::{Kind, Token};
use crate::intent::lexicon::{Cue, Noun, Verb};

/// "512 MB of memory" sets a size: it does not ask about the memory metric.
pub(super) fn sized_setting(tokens: &[Token<'_>], i: usize) -> bool {
    tokens[i].has(|c| matches!(c, Cue::Setting(_)))
        && (i.saturating_sub(2)..(i + 3).min(tokens.len()))
            .filter(|j| *j != i)
            .any(|j| {
                let x = &tokens[j];
                matches!(x.kind, Kind::Size(_) | Kind::Seconds(_))
                    || x.has(|c| matches!(c, Cue::SizeUnit(_) | Cue::Seconds))
                    || (x.number().is_some() && !x.is_stop())
            })
}

/// Everything the scorer and the extractors ask about, gathered in one pass.
#[derive(Default)]
pub(super) struct Features {
    pub(super) verbs: Vec<(usize, Verb)>,
    pub(super) nouns: Vec<(usize, Noun)>,
    pub(super) has_package: bool,
    /// "postgres" names the engine of a database being created, not a package to install.
    pub(super) engine_context: bool,
    /// "python" names the runtime of a function being created, not a package to install.
    pub(super) runtime_context: bool,
    pub(super) config_verb: bool,
    pub(super) any_verb: bool,
    pub(super) instance_type: bool,
    pub(super) instance_ids: bool,
    pub(super) volume_ids: bool,
    pub(super) tags: bool,
    pub(super) command: bool,
    pub(super) window: bool,
    pub(super) granularity: bool,
}

impl Features {
    pub(super) fn collect(tokens: &[Token<'_>], command: bool) -> Features {
        let mut f = Features {
            command,
            ..Features::default()
        };
        let mut package_tokens = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            match &t.kind {
                Kind::InstanceType(_) => f.instance_type = true,
                Kind::InstanceId(_) => f.instance_ids = true,
                Kind::VolumeId(_) => f.volume_ids = true,
                Kind::Tag(..) => f.tags = true,
                Kind::CompactWindow(..) => f.window = true,
                Kind::Known { cues, .. } => {
                    let sized = sized_setting(tokens, i);
                    for c in cues {
                        match c {
                            Cue::Verb(v) => f.verbs.push((i, *v)),
                            Cue::Noun(_) if sized => {}
                            Cue::Noun(n) => f.nouns.push((i, *n)),
                            Cue::Package => package_tokens.push(i),
                            Cue::Window(_) | Cue::WindowMark => f.window = true,
                            Cue::Granularity(_) => f.granularity = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            if t.lower == "__cmd__" {
                f.command = true;
            }
        }
        // "we need a clean restart": "need" and "want" ask for something new only when no
        // other verb says what is wanted.
        let wish = |i: usize| {
            matches!(
                tokens[i].lower.as_str(),
                "need" | "needs" | "want" | "wants"
            )
        };
        if f.verbs.iter().any(|(i, _)| !wish(*i)) {
            f.verbs.retain(|(i, _)| !wish(*i));
        }
        // "the new staging instances", "the build boxes": a create word after a determiner
        // describes the machines rather than asking for new ones. "RDS free storage drops
        // below 10 GB": a value dropping is a condition, not a deletion.
        f.verbs.retain(|(i, v)| {
            let before = i.checked_sub(1).map(|b| tokens[b].lower.as_str());
            let after = tokens.get(i + 1).map(|t| t.lower.as_str());
            !(*v == Verb::Create
                && matches!(before, Some("the" | "our" | "my" | "those" | "these"))
                || *v == Verb::Destroy
                    && matches!(after, Some("below" | "under" | "beneath" | "to")))
        });
        f.any_verb = !f.verbs.is_empty();
        f.config_verb = f.verbs.iter().any(|(_, v)| {
            matches!(
                v,
                Verb::Install | Verb::Upgrade | Verb::Uninstall | Verb::Configure | Verb::Harden
            )
        });
        let creates = f.verb(Verb::Create) && !f.config_verb;
        f.engine_context = creates && f.noun(Noun::Database) && !f.noun(Noun::Instance);
        f.runtime_context = creates && f.noun(Noun::Function);
        f.has_package = package_tokens
            .iter()
            .any(|i| !f.package_is_setting(&tokens[*i]));
        f
    }
    /// Whether a package word is really an engine or runtime setting in this request.
    pub(super) fn package_is_setting(&self, t: &Token<'_>) -> bool {
        let name = t.corrected.unwrap_or(t.lower.as_str());
        (self.engine_context && t.has(|c| matches!(c, Cue::Engine(_))))
            || (self.runtime_context && runtime_for_language(name).is_some())
    }
    pub(super) fn verb(&self, v: Verb) -> bool {
        self.verbs.iter().any(|(_, x)| *x == v)
    }
    pub(super) fn noun(&self, n: Noun) -> bool {
        self.nouns.iter().any(|(_, x)| *x == n)
    }
    pub(super) fn first_verb(&self, among: &[Verb]) -> Option<Verb> {
        self.verbs
            .iter()
            .find(|(_, v)| among.contains(v))
            .map(|(_, v)| *v)
    }
}
