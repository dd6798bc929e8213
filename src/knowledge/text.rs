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

    /// The hashed trigrams, sorted, without repeats.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// Jaccard overlap, 0.0 ..= 1.0 (two empty texts are not alike: there is nothing to match).
    pub fn jaccard(&self, other: &Trigrams) -> f64 {
        jaccard_of(&self.0, &other.0)
    }
}

/// Jaccard overlap of two sorted, repeat-free trigram sets.
pub fn jaccard_of(a: &[u32], b: &[u32]) -> f64 {
    jaccard(shared(a, b), a.len(), b.len())
}

/// How many trigrams two sorted, repeat-free sets share (one merge).
pub fn shared(a: &[u32], b: &[u32]) -> usize {
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
    both
}

/// Jaccard overlap of two sets of `a` and `b` trigrams sharing `both`: the one formula every
/// path uses, so a lookup that counts shared trigrams another way scores exactly alike.
pub fn jaccard(both: usize, a: usize, b: usize) -> f64 {
    if a == 0 || b == 0 {
        return 0.0;
    }
    both as f64 / (a + b - both) as f64
}

/// The highest Jaccard overlap two sets of `a` and `b` trigrams can have (one inside the
/// other): a bound that spares comparing sets whose sizes alone rule them out.
pub fn jaccard_bound(a: usize, b: usize) -> f64 {
    jaccard(a.min(b), a, b)
}

/// Many trigram sets in one flat pool (set `n` is `grams[ends[n-1]..ends[n]]`): no allocation
/// per set, and sets read in order sit next to each other in memory.
#[derive(Debug, Default, Clone)]
pub struct GramSets {
    grams: Vec<u32>,
    ends: Vec<u32>,
}

impl GramSets {
    pub fn push(&mut self, set: &Trigrams) {
        self.grams.extend_from_slice(&set.0);
        self.ends.push(self.grams.len() as u32);
    }

    #[inline]
    pub fn get(&self, n: usize) -> &[u32] {
        let start = if n == 0 { 0 } else { self.ends[n - 1] as usize };
        &self.grams[start..self.ends[n] as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held (capacity, not only what is used).
    pub fn heap_bytes(&self) -> usize {
        (self.grams.capacity() + self.ends.capacity()) * std::mem::size_of::<u32>()
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
