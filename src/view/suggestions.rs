//! What the tenant's past suggests, as lines: the same words in the CLI (`opsdeck suggest`) and
//! the console (`:suggest`), which shows the first few and says how to see the rest.

use crate::knowledge::Suggestion;

/// Said when there is nothing to suggest, with what was looked for.
pub fn none_found(min_repeats: usize) -> String {
    format!(
        "no suggestions: nothing asked {min_repeats} or more times, no gate denying plans repeatedly, no plan dearer than an applied equivalent"
    )
}

/// Up to `max` suggestions, one line each, then how many more there are and where to see them.
pub fn lines(found: &[Suggestion], min_repeats: usize, max: usize) -> Vec<String> {
    if found.is_empty() {
        return vec![none_found(min_repeats)];
    }
    let mut out: Vec<String> = found.iter().take(max).map(Suggestion::line).collect();
    if found.len() > max {
        out.push(format!(
            "… and {} more: `opsdeck suggest` lists every one (`--json` too)",
            found.len() - max
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(n: usize) -> Suggestion {
        Suggestion::DeniedByGate {
            rule: format!("rule.{n}"),
            times: 2,
            plans: vec!["p-1".into(), "p-2".into()],
            example: "x".into(),
        }
    }

    #[test]
    fn the_first_few_then_how_many_more() {
        let found: Vec<Suggestion> = (0..5).map(denied).collect();
        let l = lines(&found, 3, 3);
        assert_eq!(l.len(), 4);
        assert!(l[0].starts_with("denied 2 times by rule.0"));
        assert!(l[3].contains("2 more"), "{l:?}");
        assert_eq!(lines(&found, 3, 5).len(), 5);
        assert_eq!(lines(&[], 3, 5), [none_found(3)]);
    }
}
