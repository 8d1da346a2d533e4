//! Android's binary XML (`AndroidManifest.xml` inside an APK) and the chunk format it shares
//! with `resources.arsc`: a tree of chunks, each `{type: u16, header_size: u16, size: u32}`.
//! Every read is bounds-checked: a malformed file is an error, never a panic.

use crate::ApkError;

pub(crate) const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_XML_TYPE: u16 = 0x0003;
const RES_XML_START_ELEMENT_TYPE: u16 = 0x0102;
const RES_XML_END_ELEMENT_TYPE: u16 = 0x0103;
const RES_XML_RESOURCE_MAP_TYPE: u16 = 0x0180;

/// Little-endian reads over a byte slice, failing instead of panicking.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn u8(&self, at: usize) -> Result<u8, ApkError> {
        self.data.get(at).copied().ok_or_else(|| truncated(at))
    }

    pub fn u16(&self, at: usize) -> Result<u16, ApkError> {
        let b = self.data.get(at..at.checked_add(2).ok_or_else(|| truncated(at))?).ok_or_else(|| truncated(at))?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&self, at: usize) -> Result<u32, ApkError> {
        let b = self.data.get(at..at.checked_add(4).ok_or_else(|| truncated(at))?).ok_or_else(|| truncated(at))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn slice(&self, at: usize, len: usize) -> Result<Bytes<'a>, ApkError> {
        let end = at.checked_add(len).ok_or_else(|| truncated(at))?;
        self.data.get(at..end).map(|data| Bytes { data }).ok_or_else(|| truncated(at))
    }

    /// The chunk starting at `at`: (type, header size, the whole chunk).
    pub fn chunk(&self, at: usize) -> Result<(u16, usize, Bytes<'a>), ApkError> {
        let kind = self.u16(at)?;
        let header = self.u16(at + 2)? as usize;
        let size = self.u32(at + 4)? as usize;
        if size < 8 || header < 8 || header > size {
            return Err(ApkError::Malformed(format!("chunk at {at} has sizes {header}/{size}")));
        }
        Ok((kind, header, self.slice(at, size)?))
    }
}

fn truncated(at: usize) -> ApkError {
    ApkError::Malformed(format!("data ends before offset {at}"))
}

/// A string pool chunk, decoded lazily.
pub(crate) struct StringPool<'a> {
    chunk: Bytes<'a>,
    count: usize,
    utf8: bool,
    strings_start: usize,
}

impl<'a> StringPool<'a> {
    pub fn parse(chunk: Bytes<'a>) -> Result<StringPool<'a>, ApkError> {
        let count = chunk.u32(8)? as usize;
        let flags = chunk.u32(16)?;
        let strings_start = chunk.u32(20)? as usize;
        let header = chunk.u16(2)? as usize;
        // The offsets table must fit in the chunk.
        chunk.slice(header, count.checked_mul(4).ok_or_else(|| truncated(header))?)?;
        Ok(StringPool { chunk, count, utf8: flags & (1 << 8) != 0, strings_start })
    }

    /// String `index`, or `None` for the "no string" index `0xffffffff`.
    pub fn get(&self, index: u32) -> Result<Option<String>, ApkError> {
        if index == u32::MAX {
            return Ok(None);
        }
        let index = index as usize;
        if index >= self.count {
            return Err(ApkError::Malformed(format!("string {index} of a pool of {}", self.count)));
        }
        let header = self.chunk.u16(2)? as usize;
        let offset = self.chunk.u32(header + index * 4)? as usize;
        let at = self.strings_start.checked_add(offset).ok_or_else(|| truncated(offset))?;
        let c = &self.chunk;
        if self.utf8 {
            // UTF-16 length (1 or 2 bytes), then UTF-8 length (1 or 2 bytes), then the bytes.
            let skip = if c.u8(at)? & 0x80 != 0 { 2 } else { 1 };
            let at = at + skip;
            let (len, skip) = if c.u8(at)? & 0x80 != 0 {
                ((((c.u8(at)? & 0x7f) as usize) << 8) | c.u8(at + 1)? as usize, 2)
            } else {
                (c.u8(at)? as usize, 1)
            };
            let bytes = c.slice(at + skip, len)?;
            Ok(Some(String::from_utf8_lossy(bytes.data).into_owned()))
        } else {
            let (len, skip) = if c.u16(at)? & 0x8000 != 0 {
                ((((c.u16(at)? & 0x7fff) as usize) << 16) | c.u16(at + 2)? as usize, 4)
            } else {
                (c.u16(at)? as usize, 2)
            };
            let units = c.slice(at + skip, len.checked_mul(2).ok_or_else(|| truncated(at))?)?;
            let units: Vec<u16> = units.data.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            Ok(Some(String::from_utf16_lossy(&units)))
        }
    }
}

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string.
    String(String),
    /// A reference to a resource (`@string/app_name` is `0x7f0b0001`-like).
    Reference(u32),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Another type, by its code.
    Other(u8, u32),
}

impl Value {
    /// The value as text (strings as they are, numbers in decimal).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

/// An attribute of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Its name (may be empty in obfuscated files; then `resource_id` tells).
    pub name: String,
    /// The android attribute id (`android:label` is `0x01010001`), 0 for none.
    pub resource_id: u32,
    /// The value.
    pub value: Value,
}

/// An element of the tree, with its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes in file order.
    pub attributes: Vec<Attribute>,
    /// Child elements.
    pub children: Vec<Element>,
}

impl Element {
    /// An attribute by android resource id, else by name.
    pub fn attr(&self, resource_id: u32, name: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.resource_id == resource_id && resource_id != 0)
            .or_else(|| self.attributes.iter().find(|a| a.name == name))
            .map(|a| &a.value)
    }

    /// The children of one tag.
    pub fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Nesting deeper than this is refused (a real manifest is a few levels deep).
const MAX_DEPTH: usize = 64;

/// Parses a binary XML document into its root element.
pub fn parse(data: &[u8]) -> Result<Element, ApkError> {
    let file = Bytes { data };
    let (kind, header, doc) = file.chunk(0)?;
    if kind != RES_XML_TYPE {
        return Err(ApkError::Malformed(format!("not binary XML (chunk type {kind:#06x})")));
    }
    let mut pool = None;
    let mut resource_ids: Vec<u32> = Vec::new();
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut at = header;
    while at < doc.data.len() {
        let (kind, header, chunk) = doc.chunk(at)?;
        at += chunk.data.len();
        match kind {
            RES_STRING_POOL_TYPE => pool = Some(StringPool::parse(chunk)?),
            RES_XML_RESOURCE_MAP_TYPE => {
                resource_ids = chunk.data[header..]
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
            }
            RES_XML_START_ELEMENT_TYPE => {
                let pool = pool.as_ref().ok_or_else(|| ApkError::Malformed("element before string pool".into()))?;
                if stack.len() > MAX_DEPTH {
                    return Err(ApkError::Malformed("elements nested too deep".into()));
                }
                let ext = header;
                let name = pool.get(chunk.u32(ext + 4)?)?.unwrap_or_default();
                let attr_start = chunk.u16(ext + 8)? as usize;
                let attr_size = chunk.u16(ext + 10)? as usize;
                let attr_count = chunk.u16(ext + 12)? as usize;
                if attr_size < 20 {
                    return Err(ApkError::Malformed(format!("attribute size {attr_size}")));
                }
                let mut attributes = Vec::with_capacity(attr_count);
                for i in 0..attr_count {
                    let a = ext + attr_start + i * attr_size;
                    let name_index = chunk.u32(a + 4)?;
                    let raw = chunk.u32(a + 8)?;
                    let data_type = chunk.u8(a + 15)?;
                    let data = chunk.u32(a + 16)?;
                    let value = match data_type {
                        0x03 => Value::String(pool.get(if raw != u32::MAX { raw } else { data })?.unwrap_or_default()),
                        0x01 => Value::Reference(data),
                        0x10 => Value::Int(data as i32 as i64),
                        0x11 => Value::Int(data as i64),
                        0x12 => Value::Bool(data != 0),
                        other => Value::Other(other, data),
                    };
                    attributes.push(Attribute {
                        name: pool.get(name_index)?.unwrap_or_default(),
                        resource_id: resource_ids.get(name_index as usize).copied().unwrap_or(0),
                        value,
                    });
                }
                stack.push(Element { name, attributes, children: Vec::new() });
            }
            RES_XML_END_ELEMENT_TYPE => {
                if stack.len() < 2 {
                    return Err(ApkError::Malformed("end of an element never started".into()));
                }
                let done = stack.pop().expect("checked above");
                stack.last_mut().expect("checked above").children.push(done);
            }
            // Namespaces, CDATA and unknown chunks carry nothing the manifest reader needs.
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(ApkError::Malformed(format!("{} elements never closed", stack.len() - 1)));
    }
    let mut document = stack.into_iter().next().expect("length checked above");
    if document.children.len() != 1 {
        return Err(ApkError::Malformed(format!("{} root elements", document.children.len())));
    }
    Ok(document.children.remove(0))
}
