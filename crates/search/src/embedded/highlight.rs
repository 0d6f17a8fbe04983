//! Typo tolerance and snippets, with Meilisearch's rules: no typo in words under 5 letters, one
//! in 5–8, two from 9 on (a swap of two neighbours is one typo); the last query word also
//! matches as a prefix. The snippet is a window of the text around the first matched word.

use tantivy::tokenizer::{TextAnalyzer, TokenStream};

/// Words of the snippet window, as Meilisearch's `cropLength`.
pub(crate) const SNIPPET_WORDS: usize = 20;

/// A word of the query and how it may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryWord {
    pub text: String,
    pub typos: u8,
    /// The last word, unless the text ends with a space: it matches as a prefix too.
    pub prefix: bool,
}

/// The typos allowed in a word of `letters` letters.
pub(crate) fn typo_budget(letters: usize) -> u8 {
    match letters {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The query's words, analyzed as the indexed text is.
pub(crate) fn query_words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<QueryWord> {
    let mut words = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        let text = token.text.clone();
        words.push(QueryWord {
            typos: typo_budget(text.chars().count()),
            text,
            prefix: false,
        });
    }
    if let Some(last) = words.last_mut() {
        last.prefix = !text.ends_with(char::is_whitespace);
    }
    words
}

/// Whether an analyzed word of a document matches a query word.
pub(crate) fn matches(word: &QueryWord, candidate: &str) -> bool {
    let query: Vec<char> = word.text.chars().collect();
    let candidate: Vec<char> = candidate.chars().collect();
    let typos = usize::from(word.typos);
    if word.prefix {
        prefix_distance(&query, &candidate) <= typos
    } else {
        query.len().abs_diff(candidate.len()) <= typos && distance(&query, &candidate) <= typos
    }
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn distance(a: &[char], b: &[char]) -> usize {
    let table = table(a, b);
    table[a.len()][b.len()]
}

/// The smallest distance between `query` and any prefix of `candidate`.
fn prefix_distance(query: &[char], candidate: &[char]) -> usize {
    let table = table(query, candidate);
    table[query.len()]
        .iter()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}

fn table(a: &[char], b: &[char]) -> Vec<Vec<usize>> {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d
}

/// Up to [`SNIPPET_WORDS`] words of `text` starting a little before the first matched word (or
/// at the start), HTML-escaped, each matched word wrapped in `<em>…</em>`, with `…` where text
/// was cut.
pub(crate) fn snippet(analyzer: &mut TextAnalyzer, text: &str, words: &[QueryWord]) -> String {
    let mut tokens: Vec<(usize, usize, bool)> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        let matched = words.iter().any(|w| matches(w, &token.text));
        tokens.push((token.offset_from, token.offset_to, matched));
    }
    let first_match = tokens.iter().position(|t| t.2).unwrap_or(0);
    let start = first_match.saturating_sub(SNIPPET_WORDS / 4);
    let end = (start + SNIPPET_WORDS).min(tokens.len());
    let Some(window) = tokens.get(start..end).filter(|w| !w.is_empty()) else {
        return escape(text);
    };
    let from = if start == 0 { 0 } else { window[0].0 };
    let to = if end == tokens.len() {
        text.len()
    } else {
        window[window.len() - 1].1
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for &(token_from, token_to, matched) in window {
        out.push_str(&escape(text.get(at..token_from).unwrap_or("")));
        let word = escape(text.get(token_from..token_to).unwrap_or(""));
        if matched {
            out.push_str("<em>");
            out.push_str(&word);
            out.push_str("</em>");
        } else {
            out.push_str(&word);
        }
        at = token_to;
    }
    out.push_str(&escape(text.get(at..to).unwrap_or("")));
    if to < text.len() {
        out.push('…');
    }
    out
}

/// `text` safe to put in HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::schema::analyzer;

    fn word(text: &str, prefix: bool) -> QueryWord {
        QueryWord {
            text: text.to_owned(),
            typos: typo_budget(text.chars().count()),
            prefix,
        }
    }

    #[test]
    fn typo_budgets_follow_word_length() {
        assert!(!matches(&word("yoga", false), "yoda"));
        assert!(matches(&word("fashion", false), "fashoin"));
        assert!(!matches(&word("fashion", false), "fshoin"));
        assert!(matches(&word("photography", false), "fotography"));
    }

    #[test]
    fn the_last_word_matches_as_a_prefix() {
        assert!(matches(&word("phot", true), "photography"));
        assert!(!matches(&word("phot", false), "photography"));
    }

    #[test]
    fn a_snippet_marks_matches_and_escapes_the_rest() {
        let mut analyzer = analyzer();
        let words = query_words(&mut analyzer, "cafe");
        let text = "Coffee <b> & Café reviews";
        assert_eq!(
            snippet(&mut analyzer, text, &words),
            "Coffee &lt;b&gt; &amp; <em>Café</em> reviews"
        );
    }
}
