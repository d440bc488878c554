//! People's names as the full-text index keys them: each author as "surname initial" and
//! "surname given-name", and a query that is a person's name as the one key it stands for, so
//! "Geoffrey Hinton", "G. E. Hinton" and "Hinton, G." find the same person, and "spin Hall" no one.

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

/// People's names: words, lower-cased, accents folded ("Schölkopf" is found as "Scholkopf").
pub(crate) const NAMES: &str = "names";

pub(crate) fn names_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default()).filter(RemoveLongFilter::limit(40)).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// Words that end a name without being the surname ("Jr.", "III").
const NAME_SUFFIXES: [&str; 6] = ["jr", "sr", "ii", "iii", "iv", "phd"];

/// A name's words, lower-cased and accent-folded, suffixes dropped.
fn name_words(analyzer: &mut TextAnalyzer, name: &str) -> Vec<String> {
    let mut words = Vec::new();
    analyzer.token_stream(name).process(&mut |t| words.push(t.text.clone()));
    while words.last().is_some_and(|w| NAME_SUFFIXES.contains(&w.as_str())) {
        words.pop();
    }
    words
}

fn push_keys(keys: &mut Vec<String>, surname: &str, given: &str) {
    let Some(initial) = given.chars().next() else { return };
    if surname.chars().count() < 2 {
        return;
    }
    keys.push(format!("{surname} {initial}"));
    if given.chars().count() > 1 {
        keys.push(format!("{surname} {given}"));
    }
}

/// An author's name as index keys: "surname initial" and, when the first given name is written
/// out, "surname given-name" ("Geoffrey E. Hinton" → `hinton g`, `hinton geoffrey`). The surname is
/// the last word, as arXiv writes names, or what comes before a comma ("Hinton, Geoffrey E.").
pub fn name_keys(analyzer: &mut TextAnalyzer, name: &str) -> Vec<String> {
    let mut keys = Vec::new();
    // "Hinton, Geoffrey E." as some sources write it.
    if let Some((surname, given)) = name.split_once(',') {
        if let (Some(s), Some(g)) = (name_words(analyzer, surname).last(), name_words(analyzer, given).first()) {
            push_keys(&mut keys, s, g);
        }
        return keys;
    }
    let words = name_words(analyzer, name);
    if let [given, .., surname] = words.as_slice() {
        push_keys(&mut keys, surname, given);
    }
    keys
}

/// The key a query has if it is a person's name: two to four words of letters (and
/// `.,-'`). "Geoffrey Hinton" and "G. E. Hinton" name the surname last; "Hinton, Geoffrey",
/// "Hinton G" and "Hinton GE" name it first (a comma after the first word, or only initials after
/// it). An initial finds every given name it starts ("G. Hinton" finds Geoffrey Hinton); a
/// written-out given name finds only itself, so a topic that ends in a surname ("spin Hall")
/// is not taken for a person with that initial ("S. Hall").
pub fn query_name_key(analyzer: &mut TextAnalyzer, query: &str) -> Option<String> {
    let raw: Vec<&str> = query.split_whitespace().collect();
    if !(2..=4).contains(&raw.len()) || !raw.iter().all(|w| w.chars().all(|c| c.is_alphabetic() || ".,-'".contains(c))) {
        return None;
    }
    let words = name_words(analyzer, query);
    if !(2..=4).contains(&words.len()) {
        return None;
    }
    let initials_after_first = raw[1..].iter().all(|w| {
        let letters: Vec<char> = w.chars().filter(|c| c.is_alphabetic()).collect();
        letters.len() == 1 || (letters.len() <= 3 && letters.iter().all(|c| c.is_uppercase()))
    });
    let (surname, given) = if raw[0].ends_with(',') {
        (&words[0], words[1].as_str())
    } else if initials_after_first {
        (&words[0], &words[1][..words[1].chars().next().map_or(0, char::len_utf8)])
    } else {
        (&words[words.len() - 1], words[0].as_str())
    };
    if surname.chars().count() < 2 {
        return None;
    }
    Some(format!("{surname} {given}"))
}

/// True when `query` names the person `name` (see [`query_name_key`] and [`name_keys`]).
pub fn names_match(query: &str, name: &str) -> bool {
    let mut analyzer = names_analyzer();
    query_name_key(&mut analyzer, query).is_some_and(|wanted| name_keys(&mut analyzer, name).contains(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_with_and_without_initials() {
        let mut a = names_analyzer();
        assert_eq!(name_keys(&mut a, "Geoffrey E. Hinton"), ["hinton g", "hinton geoffrey"]);
        assert_eq!(name_keys(&mut a, "G. Hinton Jr."), ["hinton g"]);
        assert_eq!(name_keys(&mut a, "Hinton, Geoffrey E."), ["hinton g", "hinton geoffrey"]);
        assert_eq!(name_keys(&mut a, "Bernhard Schölkopf"), ["scholkopf b", "scholkopf bernhard"]);
        assert!(name_keys(&mut a, "Hinton").is_empty());
        let q = |s: &str| query_name_key(&mut names_analyzer(), s).into_iter().collect::<Vec<_>>();
        assert_eq!(q("Geoffrey Hinton"), ["hinton geoffrey"]);
        assert_eq!(q("geoffrey e. hinton"), ["hinton geoffrey"]);
        assert_eq!(q("G. E. Hinton"), ["hinton g"]);
        assert_eq!(q("Hinton, Geoffrey"), ["hinton geoffrey"]);
        assert_eq!(q("Hinton, G."), ["hinton g"]);
        assert_eq!(q("spin Hall"), ["hall spin"]);
        assert_eq!(q("Hinton G"), ["hinton g"]);
        assert_eq!(q("Hinton GE"), ["hinton g"]);
        // Not names: one word, five words, digits, query syntax.
        for not_a_name in ["Hinton", "a b c d e", "GPT 4", "author:hinton", "x"] {
            assert!(q(not_a_name).is_empty(), "{not_a_name}");
        }
    }
}
