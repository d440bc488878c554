//! The query language as users write it: field aliases, phrases, `+`/`-`; what a query means when
//! it is embedded; and plain text escaped so it is only words.

/// Query syntax as the index reads it: `author:` and `cat:` are the user-facing names of the
/// `authors` and `categories` fields; a field clause (`title:`, `author:`, `cat:`) is a
/// requirement, not one more optional term. A quoted phrase is copied as it is (it scores the
/// papers that hold it higher; natural text quotes words too, so it is not required).
pub(crate) fn rewrite_syntax(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 8);
    let mut at_word_start = true;
    let mut rest = query;
    while let Some(c) = rest.chars().next() {
        if at_word_start {
            let field = [("author:", "authors:"), ("cat:", "categories:"), ("title:", "title:")]
                .into_iter()
                .find_map(|(alias, name)| rest.strip_prefix(alias).map(|r| (name, r)));
            if let Some((name, r)) = field {
                if !(out.ends_with('+') || out.ends_with('-')) {
                    out.push('+');
                }
                out.push_str(name);
                rest = r;
                at_word_start = false;
                continue;
            }
        }
        if c == '"' {
            let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            at_word_start = false;
            continue;
        }
        at_word_start = c.is_whitespace() || c == '(' || c == '-' || c == '+';
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The words of a query to embed for search by meaning. A plain query is embedded as it is; with
/// syntax, its words and phrases are kept without quotes, field names or operators, and what it
/// excludes (`-word`) and its `author:`/`cat:` clauses are left out (names and categories carry no
/// meaning to embed; they are requirements, see [`super::fulltext::FullTextIndex::admitted`]).
pub fn meaning_text(query: &str) -> String {
    if !uses_query_syntax(query) {
        return query.to_owned();
    }
    let mut words: Vec<&str> = Vec::new();
    let mut rest = query.trim_start();
    while !rest.is_empty() {
        let excluded = rest.starts_with('-');
        let unit = rest.trim_start_matches(['+', '-', '(']);
        // A field name, if any, then a phrase or a word.
        let (field, value) = match unit.split_once(':') {
            Some((name, v)) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) && !name.contains('"') => (name, v),
            _ => ("", unit),
        };
        let (text, after) = match value.strip_prefix('"') {
            Some(v) => match v.find('"') {
                Some(i) => (&v[..i], &v[i + 1..]),
                None => (v, ""),
            },
            None => value.split_once(char::is_whitespace).unwrap_or((value, "")),
        };
        let names = ["author", "authors", "cat", "categories"].contains(&field.to_ascii_lowercase().as_str());
        let text = text.trim_matches(['(', ')']);
        if !excluded && !names && !["AND", "OR", "NOT"].contains(&text) && !text.is_empty() {
            words.push(text);
        }
        rest = after.trim_start();
    }
    words.join(" ")
}

/// True when the user wrote query syntax on purpose: a phrase, a field, or a +/- term.
pub(crate) fn uses_query_syntax(query: &str) -> bool {
    query.contains('"')
        || query.split_whitespace().any(|w| {
            let w = w.trim_start_matches(['(', '+', '-']);
            ["title:", "author:", "cat:", "abstract:", "authors:", "categories:"].iter().any(|f| w.starts_with(f))
        })
        || query.split_whitespace().any(|w| {
            // `-survey`, `+"exact words"`; not `-2,` or `+5` in a sentence.
            let mut chars = w.chars();
            matches!(chars.next(), Some('+' | '-')) && chars.next().is_some_and(|c| c.is_alphabetic() || c == '"')
        })
}

/// Plain text as a query: every character the query language gives a meaning to is escaped,
/// and the operators AND/OR/NOT are lower-cased, so "IL-6: a (new) marker? NOT likely" is words.
pub(crate) fn escape_query_syntax(query: &str) -> String {
    let mut out = String::with_capacity(query.len() * 2);
    for word in query.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let word = match word {
            "AND" | "OR" | "NOT" | "IN" => word.to_lowercase(),
            w => w.to_owned(),
        };
        for c in word.chars() {
            if "+-&|!(){}[]^\"~*?:\\/<>'=".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_phrases() {
        assert_eq!(
            rewrite_syntax("author:hinton cat:cs.LG (cat:stat.ML) coauthor:x -title:survey"),
            "+authors:hinton +categories:cs.LG (+categories:stat.ML) coauthor:x -title:survey"
        );
        assert_eq!(
            rewrite_syntax(r#"diffusion "score matching" -"toy data" title:"denoising author:x" ("a b" OR c)"#),
            r#"diffusion "score matching" -"toy data" +title:"denoising author:x" ("a b" OR c)"#
        );
        assert_eq!(rewrite_syntax(r#"x "unclosed"#), r#"x "unclosed"#);
    }

    #[test]
    fn the_meaning_of_a_query_written_with_syntax() {
        assert_eq!(meaning_text("robots that learn (from) video?"), "robots that learn (from) video?");
        assert_eq!(
            meaning_text(r#"title:diffusion author:song cat:cs.LG "score matching" -survey -"toy data" AND +images"#),
            "diffusion score matching images"
        );
        assert_eq!(meaning_text(r#"author:"Geoffrey Hinton" cat:cs.LG"#), "");
        assert_eq!(meaning_text(r#"title:"attention is all" (transformers OR rnn)"#), "attention is all transformers rnn");
    }

    #[test]
    fn plain_text_is_escaped_and_syntax_is_kept() {
        assert!(!uses_query_syntax("IL-6: a (new) marker? NOT likely"));
        assert_eq!(escape_query_syntax("IL-6: (new) NOT"), "IL\\-6\\: \\(new\\) not");
        assert!(uses_query_syntax("\"exact phrase\" here"));
        assert!(uses_query_syntax("author:hinton nets"));
        assert!(uses_query_syntax("transformers -vision"));
        assert!(!uses_query_syntax("E2f-1, -2, -3 cells; +1 nucleosomes"));
    }
}
