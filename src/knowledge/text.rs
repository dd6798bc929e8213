//! Text likeness: character trigrams of the normalised request text, compared by Jaccard
//! overlap. Offline and model-free; typos and word order cost a little, not everything.

/// A request text's trigram set: hashed, sorted, without repeats (so overlap is one merge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigrams(Vec<u32>);

impl Trigrams {
    pub fn of(text: &str) -> Trigrams {
        let norm = normalise(text);
        let chars: Vec<char> = norm.chars().collect();
        let mut grams: Vec<u32> = chars.windows(3).map(|w| hash3(w[0], w[1], w[2])).collect();
        grams.sort_unstable();
        grams.dedup();
        Trigrams(grams)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Jaccard overlap, 0.0 ..= 1.0 (two empty texts are not alike: there is nothing to match).
    pub fn jaccard(&self, other: &Trigrams) -> f64 {
        let (a, b) = (&self.0, &other.0);
        if a.is_empty() || b.is_empty() {
            return 0.0;
        }
        let (mut i, mut j, mut both) = (0, 0, 0usize);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        both as f64 / (a.len() + b.len() - both) as f64
    }
}

/// Lower case, every run of anything but letters, digits and `.`/`-` (kept for `t3.medium`,
/// `eu-west-1`) as one space, padded with a space each side so words' edges count.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '.' || c == '-' {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

/// FNV-1a over the three characters: stable across runs and platforms.
fn hash3(a: char, b: char, c: char) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for ch in [a, b, c] {
        for byte in (ch as u32).to_le_bytes() {
            h ^= u32::from(byte);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_words_any_case_and_spacing_are_identical() {
        let a = Trigrams::of("Create 3 t3.medium instances in eu-west-1");
        let b = Trigrams::of("  create 3   T3.MEDIUM instances, in eu-west-1!");
        assert_eq!(a.jaccard(&b), 1.0);
    }

    #[test]
    fn a_typo_costs_a_little_and_other_words_a_lot() {
        let a = Trigrams::of("restart the staging web servers");
        let typo = Trigrams::of("restart the stagin web servers");
        let other = Trigrams::of("what did we spend on s3 last month");
        let near = a.jaccard(&typo);
        assert!(near > 0.7 && near < 1.0, "{near}");
        assert!(a.jaccard(&other) < 0.15, "{}", a.jaccard(&other));
    }

    #[test]
    fn empty_text_matches_nothing() {
        assert_eq!(Trigrams::of("").jaccard(&Trigrams::of("")), 0.0);
        assert!(
            Trigrams::of("   ").is_empty()
                || Trigrams::of("   ").jaccard(&Trigrams::of("x")) == 0.0
        );
    }
}
