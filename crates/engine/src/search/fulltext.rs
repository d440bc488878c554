//! The full-text index (tantivy, BM25): title (boosted), abstract, authors, categories and id,
//! English stemming, phrases, `title:`/`author:`/`cat:` fields, date and category filters,
//! highlighted snippets; an exact arXiv id or exact title ranks first, then, when the query is a
//! person's name ("Geoffrey Hinton", "G. E. Hinton", "Hinton, G."), that person's papers.
//!
//! The index is derived from the store and can be rebuilt at any time. It follows the store's
//! `seq`: every commit carries the last `seq` it indexed as its payload, so after a crash the
//! index reopens at its last commit and catches up from there.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use paperboy_core::text::fold_whitespace;
use paperboy_core::{ArxivId, Paper, PaperId};
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, OwnedValue, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter, TextAnalyzer};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::highlight::{self, Analysed, PaperText, QueryTerms, TextCache};
use super::names::{name_keys, names_analyzer, query_name_key, NAMES};
use super::syntax::{escape_query_syntax, rewrite_syntax, uses_query_syntax};
use super::{Filters, SearchError};

/// Field handles.
#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    title_exact: Field,
    abstract_text: Field,
    text: Field,
    authors: Field,
    /// Each author as "surname initial" and "surname given-name" (see [`name_keys`]).
    author_key: Field,
    categories: Field,
    day: Field,
}

/// The title field's boost on top of `text`: title words count 1.5 times; tuned on the SciFact
/// dev split (see BENCHMARKS.md).
const TITLE_BOOST: f32 = 0.5;
/// Shortest query word (after stemming) that may match title words one edit away.
const FUZZY_MIN_CHARS: usize = 5;
/// Weight of a title word one edit away from a query word no title holds.
const FUZZY_BOOST: f32 = 1.0;

/// English text: words, lower-cased, English stop words dropped, Porter-stemmed.
const ENGLISH: &str = "en_stem_stop";
fn register_tokenizers(index: &Index) {
    let mut builder = TextAnalyzer::builder(SimpleTokenizer::default()).filter(RemoveLongFilter::limit(40)).filter(LowerCaser).dynamic();
    if let Some(stop) = StopWordFilter::new(Language::English) {
        builder = builder.filter_dynamic(stop);
    }
    index.tokenizers().register(ENGLISH, builder.filter_dynamic(super::stem::CachedEnglishStemmer).build());
    index.tokenizers().register(NAMES, names_analyzer());
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let stemmed = TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(ENGLISH).set_index_option(IndexRecordOption::WithFreqsAndPositions))
        .set_stored();
    let names = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(NAMES).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED | FAST),
        title: b.add_text_field("title", stemmed.clone()),
        title_exact: b.add_text_field("title_exact", STRING),
        abstract_text: b.add_text_field("abstract", stemmed.clone()),
        // Title and abstract as one text, as BEIR scores documents; the title field on top of it
        // gives title words their boost.
        text: b.add_text_field("text", TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(ENGLISH).set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )),
        authors: b.add_text_field("authors", names),
        author_key: b.add_text_field("author_key", STRING),
        categories: b.add_text_field("categories", STRING),
        day: b.add_i64_field("day", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// A title folded for exact matching: lower case, letters and digits only, single spaces.
pub fn exact_title_key(title: &str) -> String {
    let lowered: String = title.chars().map(|c| if c.is_alphanumeric() { c.to_lowercase().next().unwrap_or(c) } else { ' ' }).collect();
    fold_whitespace(&lowered)
}

fn day_number(d: NaiveDate) -> i64 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// One full-text hit.
#[derive(Debug, Clone)]
pub struct TextHit {
    /// The paper.
    pub id: PaperId,
    /// BM25 score (exact matches get the top score plus one).
    pub score: f32,
    /// The abstract fragment with matched terms in `<b>…</b>`, HTML-escaped.
    pub snippet_html: String,
    /// Query terms found in the paper.
    pub matched_terms: Vec<String>,
    /// True when the query was this paper's exact id or exact title.
    pub exact: bool,
    /// True when the query is the name of one of its authors (pinned after exact matches).
    pub author: bool,
}

/// The parts of a hit that [`FullTextIndex::highlight`] fills in, borrowed from any hit type.
pub struct TextHitRef<'a> {
    /// The paper.
    pub id: &'a PaperId,
    /// Where the snippet goes.
    pub snippet_html: &'a mut String,
    /// Where the matched terms go.
    pub matched_terms: &'a mut Vec<String>,
}

impl<'a> From<&'a mut TextHit> for TextHitRef<'a> {
    fn from(h: &'a mut TextHit) -> Self {
        TextHitRef { id: &h.id, snippet_html: &mut h.snippet_html, matched_terms: &mut h.matched_terms }
    }
}

/// The tantivy index of the papers.
pub struct FullTextIndex {
    index: Index,
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
    /// Each segment's paper ids by document number, read once from the id column (segments
    /// never change; merged-away ones are dropped on commit).
    ids: std::sync::Mutex<HashMap<tantivy::index::SegmentId, std::sync::Arc<Vec<Option<PaperId>>>>>,
    /// Analysed texts of the papers shown lately (for highlighting), dropped at every commit.
    texts: TextCache,
    /// The names analyser, kept for indexing (a search builds its own: searches share `&self`).
    names: TextAnalyzer,
}

impl FullTextIndex {
    /// Opens the index in `dir`, creating it if missing. A directory holding an index of another
    /// schema is an error; rebuild it (`paperboy reindex`).
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            // An index made by another version of paperboy: it is derived data, so start over
            // (the caller's sync then rebuilds it from the store).
            Err(tantivy::TantivyError::SchemaError(reason)) => {
                tracing::warn!(%reason, dir = %dir.display(), "full-text index has another schema; rebuilding it");
                std::fs::remove_dir_all(dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?;
                std::fs::create_dir_all(dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?;
                Index::create_in_dir(dir, schema)?
            }
            Err(e) => return Err(e.into()),
        };
        Self::with_index(index, fields)
    }

    /// A throwaway index in memory.
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        register_tokenizers(&index);
        let writer = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(FullTextIndex { index, reader, writer, fields, ids: Default::default(), texts: TextCache::default(), names: names_analyzer() })
    }

    /// The store `seq` up to which the last commit indexed (0 for a new index).
    pub fn indexed_seq(&self) -> Result<i64, SearchError> {
        Ok(self.index.load_metas()?.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// Adds or replaces a paper (visible after [`FullTextIndex::commit`]).
    pub fn upsert(&mut self, paper: &Paper) -> Result<(), SearchError> {
        let f = self.fields;
        let id = paper.id.to_string();
        self.writer.delete_term(Term::from_field_text(f.id, &id));
        let mut document = doc!(
            f.id => id,
            f.title => paper.title.clone(),
            f.title_exact => exact_title_key(&paper.title),
            f.abstract_text => paper.abstract_text.clone(),
            f.text => format!("{}\n{}", paper.title, paper.abstract_text),
        );
        for a in &paper.authors {
            document.add_text(f.authors, &a.name);
            for key in name_keys(&mut self.names, &a.name) {
                document.add_text(f.author_key, key);
            }
        }
        for c in &paper.categories {
            document.add_text(f.categories, c.as_str());
        }
        if let Some(day) = paper.day() {
            document.add_i64(f.day, day_number(day));
        }
        self.writer.add_document(document)?;
        Ok(())
    }

    /// Makes everything added visible and records `seq` as indexed, atomically.
    pub fn commit(&mut self, seq: i64) -> Result<(), SearchError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&seq.to_string());
        prepared.commit()?;
        self.reader.reload()?;
        let live: std::collections::HashSet<tantivy::index::SegmentId> = self.reader.searcher().segment_readers().iter().map(|r| r.segment_id()).collect();
        self.ids.lock().expect("id cache lock").retain(|id, _| live.contains(id));
        self.texts.clear();
        Ok(())
    }

    /// Removes every document (for a rebuild); visible after commit.
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Documents in the last commit.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn parser(&self) -> QueryParser {
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.text, f.title, f.authors]);
        parser.set_field_boost(f.title, TITLE_BOOST);
        parser
    }

    /// Plain words (no query syntax): every word in `text`, `title` (boosted) and `authors`, as
    /// one flat union of terms, which tantivy scores with block-max WAND (only documents that can
    /// still enter the top are scored). A word that makes several tokens ("IL-6",
    /// "vision-language") adds each of them as a term, as full-text engines' match queries do;
    /// the query parser made it a phrase, which cannot be pruned: at a million papers such
    /// queries took 60–80 ms instead of a few. The scores are otherwise the parser's (a sum over
    /// the same clauses).
    ///
    /// Typos: a word of at least [`FUZZY_MIN_CHARS`] letters that no title holds also matches
    /// title words one edit away (a transposition counts as one), with a small fixed weight.
    /// Words the index knows add nothing, so a query without typos costs what it did.
    fn plain_query(&self, query: &str, searcher: &tantivy::Searcher) -> Result<Box<dyn Query>, SearchError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut title_terms: Vec<Term> = Vec::new();
        for (field, boost) in [(f.text, 1.0), (f.title, TITLE_BOOST), (f.authors, 1.0)] {
            let mut analyser = self.index.tokenizer_for_field(field)?;
            analyser.token_stream(query).process(&mut |t| {
                let term = Term::from_field_text(field, &t.text);
                if field == f.title && t.text.chars().count() >= FUZZY_MIN_CHARS && t.text.chars().all(char::is_alphabetic) {
                    title_terms.push(term.clone());
                }
                let leaf: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                clauses.push((Occur::Should, if boost == 1.0 { leaf } else { Box::new(BoostQuery::new(leaf, boost)) }));
            });
        }
        for term in title_terms {
            if searcher.doc_freq(&term)? == 0 {
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term, 1, true)), FUZZY_BOOST))));
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// When `query` is a person's name that some author has: that person's papers (at most
    /// `limit`), those that also match `user_query` best first. Otherwise nothing, at the cost of a
    /// term lookup.
    fn named_person(&self, query: &str, user_query: &dyn Query, searcher: &tantivy::Searcher, filters: &Filters, limit: usize) -> Result<Vec<(f32, tantivy::DocAddress)>, SearchError> {
        let Some(key) = query_name_key(&mut names_analyzer(), query) else { return Ok(Vec::new()) };
        let term = Term::from_field_text(self.fields.author_key, &key);
        if searcher.doc_freq(&term)? == 0 {
            return Ok(Vec::new());
        }
        let person: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, person), (Occur::Should, user_query.box_clone())];
        add_filters(&mut clauses, self.fields, filters);
        Ok(searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit))?)
    }

    /// Searches; `query` may use phrases (`"…"`), `title:`, `author:`, `cat:`, `AND`/`OR`/`-`.
    /// Hits come without snippets; see [`FullTextIndex::highlight`].
    pub fn search(&self, query: &str, filters: &Filters, limit: usize) -> Result<Vec<TextHit>, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let syntax = uses_query_syntax(query);
        let user_query = if syntax {
            self.parser().parse_query_lenient(&rewrite_syntax(query)).0
        } else {
            self.plain_query(query, &searcher)?
        };
        let named = if syntax { Vec::new() } else { self.named_person(query, &*user_query, &searcher, filters, limit)? };
        // Without filters the query goes alone, so a flat union of terms is scored with block-max
        // WAND (only documents that can still enter the top `limit` are scored).
        let full: Box<dyn Query> = if filters.is_empty() {
            user_query
        } else {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, user_query)];
            add_filters(&mut clauses, f, filters);
            Box::new(BooleanQuery::new(clauses))
        };
        let top = searcher.search(&*full, &TopDocs::with_limit(limit))?;

        // Exact id or exact title: pinned first.
        let mut exact: Vec<(f32, tantivy::DocAddress)> = Vec::new();
        let mut exact_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Ok(v) = ArxivId::parse_loose(query.trim()) {
            exact_clauses.push((Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.id, v.id.as_str()), IndexRecordOption::Basic))));
        }
        let key = exact_title_key(query);
        if key.split(' ').count() >= 3 {
            exact_clauses.push((Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.title_exact, &key), IndexRecordOption::Basic))));
        }
        if !exact_clauses.is_empty() {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(exact_clauses)))];
            add_filters(&mut clauses, f, filters);
            exact = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(5))?;
        }
        let best = top.first().map(|(s, _)| *s).unwrap_or(0.0);
        // (score, document, exact, by the named author)
        let mut ordered: Vec<(f32, tantivy::DocAddress, bool, bool)> = exact.iter().map(|(_, a)| (best + 1.0, *a, true, false)).collect();
        let pinned = ordered.len();
        for (_, address) in named {
            match ordered[..pinned].iter_mut().find(|(_, a, _, _)| *a == address) {
                Some(o) => o.3 = true,
                None => ordered.push((best + 0.5, address, false, true)),
            }
        }
        for (score, address) in top {
            if !ordered.iter().any(|(_, a, _, _)| *a == address) {
                ordered.push((score, address, false, false));
            }
        }
        ordered.truncate(limit);

        let ids = self.ids_of(&searcher, ordered.iter().map(|o| o.1))?;
        Ok(ordered
            .into_iter()
            .zip(ids)
            .map(|((score, _, exact, author), id)| TextHit { id, score, snippet_html: String::new(), matched_terms: Vec::new(), exact, author })
            .collect())
    }

    /// The paper ids of documents, from the per-segment id tables (built from the id column),
    /// not from the compressed stored documents.
    fn ids_of(&self, searcher: &tantivy::Searcher, addresses: impl Iterator<Item = tantivy::DocAddress>) -> Result<Vec<PaperId>, SearchError> {
        let mut tables: HashMap<u32, std::sync::Arc<Vec<Option<PaperId>>>> = HashMap::new();
        let mut ids = Vec::new();
        for address in addresses {
            let table = match tables.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(self.segment_ids(searcher.segment_reader(address.segment_ord))?),
            };
            ids.push(table.get(address.doc_id as usize).cloned().flatten().ok_or_else(|| SearchError::Corrupt(format!("document {address:?} has no id")))?);
        }
        Ok(ids)
    }

    /// What a query written with syntax requires and excludes (field clauses, quoted phrases,
    /// `+`/`-` terms), without its optional words; `None` for a plain query or one with neither.
    fn constraint(&self, query: &str) -> Option<Box<dyn Query>> {
        if !uses_query_syntax(query) {
            return None;
        }
        let parsed = self.parser().parse_query_lenient(&rewrite_syntax(query)).0;
        // A query of one clause is that clause (the parser drops the boolean around it).
        let Some(all) = parsed.downcast_ref::<BooleanQuery>() else { return Some(parsed) };
        let mut hard: Vec<(Occur, Box<dyn Query>)> = all.clauses().iter().filter(|(o, _)| *o != Occur::Should).map(|(o, q)| (*o, q.box_clone())).collect();
        if hard.is_empty() {
            return None;
        }
        if hard.iter().all(|(o, _)| *o == Occur::MustNot) {
            hard.push((Occur::Must, Box::new(AllQuery)));
        }
        Some(Box::new(BooleanQuery::new(hard)))
    }

    /// Those of `ids` that a query's syntax admits: every one for a plain query; with syntax, those
    /// that hold what it requires and nothing it excludes, so papers found by meaning obey the
    /// query as written too.
    pub fn admitted(&self, query: &str, ids: &[PaperId]) -> Result<std::collections::HashSet<PaperId>, SearchError> {
        let constraint = match self.constraint(query) {
            Some(c) if !ids.is_empty() => c,
            _ => return Ok(ids.iter().cloned().collect()),
        };
        let f = self.fields;
        let searcher = self.reader.searcher();
        let among: Vec<(Occur, Box<dyn Query>)> = ids
            .iter()
            .map(|id| (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.id, &id.to_string()), IndexRecordOption::Basic)) as Box<dyn Query>))
            .collect();
        let both = BooleanQuery::new(vec![(Occur::Must, constraint), (Occur::Must, Box::new(BooleanQuery::new(among)))]);
        let found = searcher.search(&both, &TopDocs::with_limit(ids.len()))?;
        Ok(self.ids_of(&searcher, found.into_iter().map(|(_, a)| a))?.into_iter().collect())
    }

    /// The paper id of every document of a segment (cached per segment).
    fn segment_ids(&self, segment: &tantivy::SegmentReader) -> Result<std::sync::Arc<Vec<Option<PaperId>>>, SearchError> {
        if let Some(t) = self.ids.lock().expect("id cache lock").get(&segment.segment_id()) {
            return Ok(t.clone());
        }
        let column = segment.fast_fields().str("id")?.ok_or_else(|| SearchError::Corrupt("the index has no id column; rebuild it with `paperboy reindex`".into()))?;
        let mut text = String::new();
        let mut table = Vec::with_capacity(segment.max_doc() as usize);
        for doc in 0..segment.max_doc() {
            let id = match column.term_ords(doc).next() {
                Some(ord) => {
                    text.clear();
                    column.ord_to_str(ord, &mut text).map_err(|e| SearchError::Corrupt(format!("id column: {e}")))?;
                    text.parse::<PaperId>().ok()
                }
                None => None,
            };
            table.push(id);
        }
        let table = std::sync::Arc::new(table);
        self.ids.lock().expect("id cache lock").insert(segment.segment_id(), table.clone());
        Ok(table)
    }

    /// Fills in the snippet and matched terms of `hits` for `query`. Each paper's title and
    /// abstract are analysed once and kept (see [`super::highlight`]); a paper not seen before
    /// costs one document fetch.
    pub fn highlight(&self, query: &str, hits: &mut [TextHitRef<'_>]) -> Result<(), SearchError> {
        if hits.is_empty() {
            return Ok(());
        }
        let f = self.fields;
        let searcher = self.reader.searcher();
        let rewritten = if uses_query_syntax(query) { rewrite_syntax(query) } else { escape_query_syntax(query) };
        // The query searched the combined `text` field; highlight its words in the abstract and title.
        let (parsed, _errors) = QueryParser::for_index(&self.index, vec![f.title, f.abstract_text]).parse_query_lenient(&rewritten);
        let (mut in_title, mut in_abstract) = (QueryTerms::default(), QueryTerms::default());
        let mut failure = None;
        parsed.query_terms(&mut |term, _| {
            if term.field() != f.title && term.field() != f.abstract_text {
                return;
            }
            let value = term.value();
            let Some(stem) = value.as_str() else { return };
            // Rare terms weigh more when choosing the fragment (as tantivy's snippets weigh them).
            let weight = match searcher.doc_freq(term) {
                Ok(n) => 1.0 / (1.0 + n as f32),
                Err(e) => {
                    failure.get_or_insert(e);
                    return;
                }
            };
            if term.field() == f.title { &mut in_title } else { &mut in_abstract }.add(stem, weight);
        });
        if let Some(e) = failure {
            return Err(e.into());
        }
        for hit in hits.iter_mut() {
            let Some(text) = self.paper_text(&searcher, hit.id)? else { continue };
            let title = highlight::highlight_all(&text.title, &in_title);
            let snippet = highlight::highlight_best(&text.abstract_text, &in_abstract, highlight::SNIPPET_CHARS);
            hit.matched_terms.clear();
            for word in title.words.into_iter().chain(snippet.words) {
                if !hit.matched_terms.contains(&word) {
                    hit.matched_terms.push(word);
                }
            }
            *hit.snippet_html = snippet.html;
        }
        Ok(())
    }

    /// The analysed title and abstract of a paper, from the cache or its stored document.
    fn paper_text(&self, searcher: &tantivy::Searcher, id: &PaperId) -> Result<Option<Arc<PaperText>>, SearchError> {
        if let Some(t) = self.texts.get(id) {
            return Ok(Some(t));
        }
        let f = self.fields;
        let by_id = TermQuery::new(Term::from_field_text(f.id, &id.to_string()), IndexRecordOption::Basic);
        let Some((_, address)) = searcher.search(&by_id, &TopDocs::with_limit(1))?.into_iter().next() else { return Ok(None) };
        let d: TantivyDocument = searcher.doc(address)?;
        let field = |field| d.get_first(field).and_then(|v| v.as_str()).unwrap_or_default();
        let mut analyser = self.index.tokenizer_for_field(f.abstract_text)?;
        let text = Arc::new(PaperText {
            title: Analysed::new(&mut analyser, field(f.title)),
            abstract_text: Analysed::new(&mut analyser, field(f.abstract_text)),
        });
        self.texts.insert(id.clone(), text.clone());
        Ok(Some(text))
    }

    /// Searches and highlights every hit: [`FullTextIndex::search`] then [`FullTextIndex::highlight`].
    pub fn search_highlighted(&self, query: &str, filters: &Filters, limit: usize) -> Result<Vec<TextHit>, SearchError> {
        let mut hits = self.search(query, filters, limit)?;
        let mut refs: Vec<TextHitRef<'_>> = hits.iter_mut().map(TextHitRef::from).collect();
        self.highlight(query, &mut refs)?;
        Ok(hits)
    }

    /// Every indexed id (for checks and tests).
    pub fn all_ids(&self) -> Result<Vec<String>, SearchError> {
        let searcher = self.reader.searcher();
        let docs = searcher.search(&AllQuery, &TopDocs::with_limit(searcher.num_docs().max(1) as usize))?;
        let mut ids = Vec::with_capacity(docs.len());
        for (_, address) in docs {
            let d: TantivyDocument = searcher.doc(address)?;
            if let Some(OwnedValue::Str(s)) = d.get_first(self.fields.id).map(OwnedValue::from) {
                ids.push(s);
            }
        }
        ids.sort();
        Ok(ids)
    }
}

fn add_filters(clauses: &mut Vec<(Occur, Box<dyn Query>)>, f: Fields, filters: &Filters) {
    if filters.since.is_some() || filters.until.is_some() {
        let lower = filters.since.map_or(Bound::Unbounded, |d| Bound::Included(Term::from_field_i64(f.day, day_number(d))));
        let upper = filters.until.map_or(Bound::Unbounded, |d| Bound::Included(Term::from_field_i64(f.day, day_number(d))));
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    if let Some(cat) = &filters.category {
        clauses.push((Occur::Must, Box::new(TermQuery::new(Term::from_field_text(f.categories, cat.as_str()), IndexRecordOption::Basic))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_queries_score_as_the_parser_scores_them_and_split_joined_words() {
        let mut index = FullTextIndex::in_memory().unwrap();
        let papers = [
            ("IL-6 signalling in the ageing heart", "Interleukin IL-6 and IL 6 receptors; the heart ages.", "Ana Heart"),
            ("Deep learning for protein folding", "Deep networks learn protein structure from sequences.", "Lee Deep"),
            ("A survey of graph neural networks", "Graphs, networks and learning on them: a survey.", "Kim Graph"),
            ("Learning to rank with deep deep models", "Ranking, learning and retrieval with deep models.", "Ana Rank"),
        ];
        for (i, (title, abstract_text, author)) in papers.iter().enumerate() {
            let mut p = Paper::new(format!("listing:{i}").parse().unwrap(), *title, paperboy_core::Source::Listing);
            p.abstract_text = abstract_text.to_string();
            p.authors = vec![paperboy_core::Author::new(*author)];
            index.upsert(&p).unwrap();
        }
        index.commit(1).unwrap();
        let searcher = index.reader.searcher();
        for q in ["deep learning", "heart ageing", "deep deep survey", "Ana networks", "the of a", "(new) marker?"] {
            let (parsed, _) = index.parser().parse_query_lenient(&escape_query_syntax(q));
            let by_parser = searcher.search(&*parsed, &TopDocs::with_limit(10)).unwrap();
            let flat = searcher.search(&*index.plain_query(q, &searcher).unwrap(), &TopDocs::with_limit(10)).unwrap();
            assert_eq!(flat.len(), by_parser.len(), "{q}");
            assert!(!flat.is_empty() || ["the of a", "(new) marker?"].contains(&q), "{q} should match papers");
            for ((a, da), (b, db)) in flat.iter().zip(&by_parser) {
                assert_eq!(da, db, "{q}");
                assert!((a - b).abs() < 1e-5, "{q}: {a} vs {b}");
            }
        }
        // A joined word is its parts: "IL-6" finds the paper that writes "IL 6" too, first the one
        // with both forms, and "learning-to-rank" the papers with any of its words.
        let ids = |q: &str| -> Vec<String> { index.search(q, &Filters::default(), 10).unwrap().into_iter().map(|h| h.id.to_string()).collect() };
        assert_eq!(ids("IL-6")[0], "listing:0");
        assert_eq!(ids("learning-to-rank")[0], "listing:3");
        assert!(ids("learning-to-rank").len() >= 3);
    }

    #[test]
    fn a_name_finds_that_persons_papers_first() {
        let mut index = FullTextIndex::in_memory().unwrap();
        let papers: [(&str, &str, &[&str]); 5] = [
            ("Deep belief nets", "A fast learning algorithm for belief nets.", &["Geoffrey E. Hinton", "Simon Osindero"]),
            ("Hinton diagrams for Geoffrey", "Hinton diagrams show weights; Geoffrey Hinton Hinton diagrams.", &["Ana Lee"]),
            ("Dynamic routing between capsules", "Capsules route.", &["Sara Sabour", "G. Hinton"]),
            ("Brown dwarfs in the halo", "Cool brown dwarfs.", &["David Brown", "Wei Hinton"]),
            ("Kernel methods", "Kernels.", &["Bernhard Schölkopf"]),
        ];
        for (i, (title, abstract_text, authors)) in papers.iter().enumerate() {
            let mut p = Paper::new(format!("listing:{i}").parse().unwrap(), *title, paperboy_core::Source::Listing);
            p.abstract_text = abstract_text.to_string();
            p.authors = authors.iter().map(|a| paperboy_core::Author::new(*a)).collect();
            index.upsert(&p).unwrap();
        }
        index.commit(1).unwrap();
        let found = |q: &str| -> Vec<(String, bool)> {
            index.search(q, &Filters::default(), 10).unwrap().into_iter().map(|h| (h.id.to_string(), h.author)).collect()
        };
        for q in ["G. E. Hinton", "Hinton, G.", "hinton g"] {
            let hits = found(q);
            let firsts: std::collections::BTreeSet<&str> = hits[..2].iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(firsts, ["listing:0", "listing:2"].into(), "{q}: {hits:?}");
            assert!(hits[..2].iter().all(|(_, by)| *by), "{q}: {hits:?}");
            // The paper that only mentions the name, and Wei Hinton's, come after, unflagged.
            assert!(hits[2..].iter().all(|(_, by)| !by), "{q}: {hits:?}");
            assert!(hits.iter().any(|(id, _)| id == "listing:1"), "{q}: {hits:?}");
        }
        // A written-out given name finds only that name: not the paper signed "G. Hinton".
        let full = found("Geoffrey Hinton");
        assert_eq!(full[0], ("listing:0".to_owned(), true), "{full:?}");
        assert!(full[1..].iter().all(|(_, by)| !by), "{full:?}");
        assert_eq!(found("Bernhard Scholkopf")[0], ("listing:4".to_owned(), true));
        use crate::search::names::names_match;
        assert!(names_match("G. Hinton", "Geoffrey E. Hinton") && names_match("Bernhard Scholkopf", "Bernhard Schölkopf"));
        assert!(!names_match("Geoffrey Hinton", "Wei Hinton") && !names_match("Hinton", "Geoffrey Hinton"));
        assert!(!names_match("Geoffrey Hinton", "G. Hinton") && !names_match("spin Hall", "Stephen Hall"));
        // A topic that happens to hold a surname is no name.
        assert!(found("brown dwarfs").iter().all(|(_, by)| !by));
        // Filters still apply to a person's papers.
        let in_cat = Filters { category: Some("cs.LG".parse().unwrap()), ..Filters::default() };
        assert!(index.search("Geoffrey Hinton", &in_cat, 10).unwrap().is_empty());
    }

    #[test]
    fn exact_keys() {
        assert_eq!(exact_title_key("  Attention Is All You Need! "), "attention is all you need");
    }
}
