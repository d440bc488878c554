//! A small element tree built from quick-xml events, for the XML feeds (OAI-PMH and Atom).
//!
//! Response pages are a few MB at most, so each page is read into a tree and the format
//! parsers pick fields out of it by local name (namespaces vary between arXiv's formats and
//! are ignored). Errors carry the byte offset where the XML broke.

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

/// One XML element: local name, attributes, text content and child elements.
#[derive(Debug, Default, Clone)]
pub struct Element {
    /// Local name without namespace prefix.
    pub name: String,
    /// Attributes by local name, in document order.
    pub attrs: Vec<(String, String)>,
    /// The element's own text (text of children not included).
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child with this name, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// An attribute by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Depth-first search for the first descendant (or self) with this local name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// Why a document is not well-formed XML.
#[derive(Debug, thiserror::Error)]
#[error("malformed XML at byte {position}: {message}")]
pub struct XmlError {
    /// Byte offset in the input.
    pub position: u64,
    /// What the XML reader said.
    pub message: String,
}

fn local(name: &[u8]) -> String {
    let name = match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(name).into_owned()
}

/// Parses a whole document into its root element.
pub fn parse_document(input: &[u8]) -> Result<Element, XmlError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut buf = Vec::new();
    let fail = |reader: &Reader<&[u8]>, message: String| XmlError { position: reader.buffer_position(), message };
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| fail(&reader, e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut el = Element { name: local(e.name().as_ref()), ..Default::default() };
                for attr in e.attributes() {
                    let attr = attr.map_err(|err| fail(&reader, err.to_string()))?;
                    let value = attr.unescape_value().map_err(|err| fail(&reader, err.to_string()))?;
                    el.attrs.push((local(attr.key.as_ref()), value.into_owned()));
                }
                if matches!(event, Event::Empty(_)) {
                    stack.last_mut().expect("root").children.push(el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().expect("reader checks nesting");
                stack.last_mut().ok_or_else(|| fail(&reader, "unbalanced end tag".into()))?.children.push(el);
            }
            Event::Text(t) => {
                let text = t.xml_content().map_err(|err| fail(&reader, err.to_string()))?;
                stack.last_mut().expect("root").text.push_str(&text);
            }
            Event::CData(t) => {
                let text = t.xml_content().map_err(|err| fail(&reader, err.to_string()))?;
                stack.last_mut().expect("root").text.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|err| fail(&reader, err.to_string()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|err| fail(&reader, err.to_string()))?;
                        resolve_xml_entity(&name)
                            .ok_or_else(|| fail(&reader, format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                stack.last_mut().expect("root").text.push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err(XmlError { position: reader.buffer_position(), message: "document ends inside an element".into() });
    }
    let mut root = stack.pop().expect("root");
    match root.children.len() {
        1 => Ok(root.children.pop().expect("one child")),
        0 => Err(XmlError { position: 0, message: "no root element".into() }),
        _ => Err(XmlError { position: 0, message: "more than one root element".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_entities_and_namespaces() {
        let root = parse_document(br#"<a:x xmlns:a="u"><b k="1&amp;2">T &amp; &#233;<![CDATA[<c>]]></b><e/></a:x>"#).unwrap();
        assert_eq!(root.name, "x");
        let b = root.child("b").unwrap();
        assert_eq!(b.text, "T & \u{e9}<c>");
        assert_eq!(b.attr("k"), Some("1&2"));
        assert!(root.child("e").is_some());
    }

    #[test]
    fn reports_position_of_breakage() {
        let err = parse_document(b"<a><b></a>").unwrap_err();
        assert!(err.position > 0, "{err}");
        assert!(parse_document(b"<a><b>").is_err());
        assert!(parse_document(b"").is_err());
    }
}
