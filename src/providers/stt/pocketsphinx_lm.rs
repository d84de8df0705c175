//! A language model for PocketSphinx that expects what people say to Cadence. The stock
//! US English model hears "add a task called water the plants" as "then the chest cold
//! water the plants"; a trigram model built around the `commands` grammar's own phrases
//! (with `*` where free text goes), backing off to the stock model's word frequencies for
//! the free text, hears it right.
//!
//! Built once per process from the installed stock model (its binary "trie" format: the
//! header, the quantization tables, the unigrams, the n-gram trie, then the words) into an
//! ARPA file in the temp directory, and passed as `-lm`. Only the unigrams of the stock
//! model are read; the commands' n-grams use interpolated absolute discounting.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The most frequent words of the stock model kept as the open vocabulary.
const VOCABULARY: usize = 20_000;
/// The commands' share of the unigram probability.
const COMMANDS_WEIGHT: f64 = 0.3;
const DISCOUNT: f64 = 0.5;
/// Sphinx stores log probabilities in base 1.0001.
const LOG10_PER_UNIT: f64 = 4.342_727_686_266_964e-5;
const TRIE_HEADER: &[u8] = b"Trie Language Model";

/// Words that often start a task; "add a task to call …" is then expected.
const TASK_VERBS: &[&str] = &[
    "call", "buy", "email", "pay", "book", "pick", "water", "clean", "send", "write", "read",
    "fix", "check", "finish", "order", "text", "cook", "walk", "take", "get", "make", "renew",
    "visit", "meet", "feed", "wash", "tidy", "plan", "prepare", "review",
];

/// The unigrams of a Sphinx binary trie model: (word, log10 probability).
pub fn read_trie_unigrams(bytes: &[u8]) -> Result<Vec<(String, f64)>, String> {
    let rest = bytes
        .strip_prefix(TRIE_HEADER)
        .ok_or("not a Sphinx trie language model")?;
    let order = usize::from(*rest.first().ok_or("truncated")?);
    if !(1..=6).contains(&order) {
        return Err(format!("order {order}"));
    }
    let u32_at = |at: usize| -> Result<u32, String> {
        let b = bytes.get(at..at + 4).ok_or("truncated")?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let counts_at = TRIE_HEADER.len() + 1;
    let n = u32_at(counts_at)? as usize;
    let mut at = counts_at + 4 * order;
    if order > 1 {
        // A dummy word, then 16-bit quantization tables: probability and backoff for each
        // middle order, probability for the longest.
        at += 4 + ((order - 2) * 2 + 1) * (1 << 16) * 4;
    }
    let unigrams_at = at;
    bytes
        .get(unigrams_at..unigrams_at + (n + 1) * 12)
        .ok_or("truncated unigrams")?;
    // The words close the file: their total length, then `n` NUL-terminated strings.
    // The n-th NUL from the end ends the first word, which starts where the length
    // field before it counts to the end of the file.
    let mut nuls = 0;
    let mut first_end = bytes.len();
    while nuls < n {
        first_end = first_end.checked_sub(1).ok_or("no word list")?;
        if bytes[first_end] == 0 {
            nuls += 1;
        }
    }
    let start = (1..=256)
        .filter_map(|len| first_end.checked_sub(len))
        .find(|&s| s >= 4 && u32_at(s - 4).is_ok_and(|k| k as usize == bytes.len() - s))
        .ok_or("no word list length")?;
    let words_len = bytes.len() - start;
    let words: Vec<&[u8]> = bytes[start..start + words_len]
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() != n {
        return Err(format!("{} words for {n} unigrams", words.len()));
    }
    let mut out = Vec::with_capacity(n);
    for (i, w) in words.into_iter().enumerate() {
        let p = &bytes[unigrams_at + i * 12..unigrams_at + i * 12 + 4];
        let prob = f32::from_le_bytes([p[0], p[1], p[2], p[3]]) as f64 * LOG10_PER_UNIT;
        out.push((String::from_utf8_lossy(w).into_owned(), prob));
    }
    Ok(out)
}

type Gram = Vec<String>;

/// The ARPA text of a trigram model: `phrases` (lower case, `*` for free text) over the
/// open vocabulary `generic` (log10 unigram probabilities).
pub fn build_arpa(generic: &[(String, f64)], phrases: &[String]) -> String {
    let mut top: Vec<&(String, f64)> = generic.iter().filter(|(w, _)| w != "<s>").collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(VOCABULARY);
    let total: f64 = top.iter().map(|(_, p)| 10f64.powf(*p)).sum();
    let stock: HashMap<&str, f64> = top
        .iter()
        .map(|(w, p)| (w.as_str(), 10f64.powf(*p) / total))
        .collect();

    // Counts of every n-gram that does not cross a free-text slot.
    let mut counts: [BTreeMap<Gram, f64>; 3] = Default::default();
    for phrase in phrases {
        let mut toks = vec!["<s>".to_string()];
        toks.extend(phrase.split_whitespace().map(str::to_string));
        toks.push("</s>".into());
        for n in 1..=3 {
            for g in toks.windows(n) {
                if g.iter().any(|w| w == "*") || (n == 1 && g[0] == "<s>") {
                    continue;
                }
                *counts[n - 1].entry(g.to_vec()).or_default() += 1.0;
            }
        }
    }
    let dom_total: f64 = counts[0].values().sum();
    let mut p1: BTreeMap<String, f64> = BTreeMap::new();
    for (w, p) in &stock {
        p1.insert(w.to_string(), (1.0 - COMMANDS_WEIGHT) * p);
    }
    for (g, c) in &counts[0] {
        *p1.entry(g[0].clone()).or_default() += COMMANDS_WEIGHT * c / dom_total;
    }

    let mut probs: [BTreeMap<Gram, f64>; 2] = Default::default();
    let mut backoff: BTreeMap<Gram, f64> = BTreeMap::new();
    for n in 2..=3 {
        let mut by_history: BTreeMap<Gram, Vec<(String, f64)>> = BTreeMap::new();
        for (g, c) in &counts[n - 1] {
            by_history
                .entry(g[..n - 1].to_vec())
                .or_default()
                .push((g[n - 1].clone(), *c));
        }
        for (h, next) in by_history {
            let total: f64 = next.iter().map(|(_, c)| c).sum();
            let left = DISCOUNT * next.len() as f64 / total;
            for (w, c) in &next {
                let mut lower_gram = h[1..].to_vec();
                lower_gram.push(w.clone());
                let lower = prob(&lower_gram, &p1, &probs, &backoff);
                let mut g = h.clone();
                g.push(w.clone());
                probs[n - 2].insert(g, (c - DISCOUNT) / total + left * lower);
            }
            // Interpolated: an unseen word gets `left` times its lower-order probability,
            // so that is the backoff weight.
            let alpha = left;
            backoff.insert(h, alpha);
        }
    }

    let log = |p: f64| if p > 0.0 { p.log10() } else { -99.0 };
    let mut out = String::new();
    let _ = writeln!(out, "\\data\\");
    let _ = writeln!(out, "ngram 1={}", p1.len() + 1);
    let _ = writeln!(out, "ngram 2={}", probs[0].len());
    let _ = writeln!(out, "ngram 3={}", probs[1].len());
    let _ = writeln!(out, "\n\\1-grams:");
    let bo = |g: &Gram| backoff.get(g).map_or(0.0, |a| a.log10());
    let _ = writeln!(out, "-99.0000\t<s>\t{:.4}", bo(&vec!["<s>".to_string()]));
    for (w, p) in &p1 {
        let _ = writeln!(out, "{:.4}\t{w}\t{:.4}", log(*p), bo(&vec![w.clone()]));
    }
    let _ = writeln!(out, "\n\\2-grams:");
    for (g, p) in &probs[0] {
        let _ = writeln!(out, "{:.4}\t{}\t{:.4}", log(*p), g.join(" "), bo(g));
    }
    let _ = writeln!(out, "\n\\3-grams:");
    for (g, p) in &probs[1] {
        let _ = writeln!(out, "{:.4}\t{}", log(*p), g.join(" "));
    }
    let _ = writeln!(out, "\n\\end\\");
    out
}

/// P(w | history) for the model built so far (backing off through lower orders).
fn prob(
    g: &[String],
    p1: &BTreeMap<String, f64>,
    probs: &[BTreeMap<Gram, f64>; 2],
    backoff: &BTreeMap<Gram, f64>,
) -> f64 {
    if g.len() == 1 {
        return p1.get(&g[0]).copied().unwrap_or(1e-9);
    }
    if let Some(p) = probs[g.len() - 2].get(g) {
        return *p;
    }
    backoff.get(&g[..g.len() - 1]).copied().unwrap_or(1.0) * prob(&g[1..], p1, probs, backoff)
}

/// The commands' phrases as a recognizer hears them (number words, "to do" as two words),
/// with the usual task verbs after "to".
pub fn corpus() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in crate::providers::llm::commands::grammar::PHRASES {
        let p = p.replace("todo", "to do");
        out.push(p.clone());
        if let Some(head) = p.strip_suffix(" to *") {
            for v in TASK_VERBS {
                out.push(format!("{head} to {v} *"));
            }
        }
    }
    out
}

static BUILT: Mutex<Option<HashMap<PathBuf, Option<PathBuf>>>> = Mutex::new(None);

/// The commands model built from the stock model at `generic` (once per process; `None`
/// when it cannot be read, and PocketSphinx keeps its own).
pub fn commands_lm(generic: &Path) -> Option<PathBuf> {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let cache = built.get_or_insert_with(HashMap::new);
    if let Some(done) = cache.get(generic) {
        return done.clone();
    }
    let result = build_file(generic);
    if let Err(e) = &result {
        tracing::warn!(error = %e, lm = %generic.display(), "PocketSphinx keeps its stock language model");
    }
    let path = result.ok();
    cache.insert(generic.to_path_buf(), path.clone());
    path
}

fn build_file(generic: &Path) -> Result<PathBuf, String> {
    let bytes = std::fs::read(generic).map_err(|e| e.to_string())?;
    let unigrams = read_trie_unigrams(&bytes)?;
    let arpa = build_arpa(&unigrams, &corpus());
    let name = format!(
        "cadence-commands-{}-{:016x}.lm",
        std::process::id(),
        fnv(arpa.as_bytes())
    );
    let path = std::env::temp_dir().join(name);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, arpa).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    Ok(path)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_arpa(text: &str) -> HashMap<String, (f64, f64)> {
        let mut out = HashMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() >= 2
                && let Ok(p) = f[0].parse::<f64>()
            {
                let bo = f.get(2).and_then(|b| b.parse().ok()).unwrap_or(0.0);
                out.insert(f[1].to_string(), (p, bo));
            }
        }
        out
    }

    #[test]
    fn commands_are_likely_and_every_distribution_sums_to_one() {
        let generic: Vec<(String, f64)> = [
            ("</s>", -1.0),
            ("the", -1.2),
            ("water", -3.0),
            ("plants", -3.5),
            ("add", -3.2),
            ("a", -1.3),
            ("task", -4.0),
            ("called", -3.8),
        ]
        .iter()
        .map(|(w, p)| (w.to_string(), *p))
        .collect();
        let phrases = vec![
            "add a task called *".to_string(),
            "add a task to *".to_string(),
        ];
        let arpa = build_arpa(&generic, &phrases);
        let lm = parse_arpa(&arpa);
        assert!(arpa.contains("ngram 3="));
        // After "a task", "called" is far likelier than its unigram.
        let tri = lm["a task called"].0;
        assert!(tri > -0.5, "{tri}");
        // Unigrams sum to one.
        let sum: f64 = lm
            .iter()
            .filter(|(k, _)| !k.contains(' '))
            .map(|(_, (p, _))| 10f64.powf(*p))
            .sum();
        assert!((sum - 1.0).abs() < 1e-3, "{sum}");
        // P(· | "a task") sums to one over the vocabulary, with the backoff.
        let words: Vec<&str> = lm
            .keys()
            .filter(|k| !k.contains(' ') && *k != "<s>")
            .map(String::as_str)
            .collect();
        let p2 = |h: &str, w: &str| -> f64 {
            match lm.get(&format!("{h} {w}")) {
                Some((p, _)) => 10f64.powf(*p),
                None => 10f64.powf(lm[h].1 + lm[w].0),
            }
        };
        let total: f64 = words
            .iter()
            .map(|w| match lm.get(&format!("a task {w}")) {
                Some((p, _)) => 10f64.powf(*p),
                None => 10f64.powf(lm["a task"].1) * p2("task", w),
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-3, "{total}");
    }

    #[test]
    fn the_installed_stock_model_is_read() {
        let stock = Path::new("/usr/share/pocketsphinx/model/en-us/en-us.lm.bin");
        let Ok(bytes) = std::fs::read(stock) else {
            // The Debian package (scripts/common.sh installs it) is not on this machine.
            return;
        };
        let unigrams = read_trie_unigrams(&bytes).unwrap();
        assert!(unigrams.len() > 50_000);
        let the = unigrams.iter().find(|(w, _)| w == "the").unwrap().1;
        assert!((-2.0..-1.0).contains(&the), "{the}");
        let path = commands_lm(stock).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("\tadd a task\t") || text.contains("\tadd a task"));
    }
}
