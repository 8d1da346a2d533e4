//! `resources.arsc`: the compiled resource table. Only what the manifest needs is read: a
//! resource id (`0xPPTTEEEE`) to its simple values in each configuration.

use crate::ApkError;
use crate::binxml::{Bytes, RES_STRING_POOL_TYPE, StringPool};

const RES_TABLE_TYPE: u16 = 0x0002;
const RES_TABLE_PACKAGE_TYPE: u16 = 0x0200;
const RES_TABLE_TYPE_TYPE: u16 = 0x0201;
const NO_ENTRY: u32 = u32::MAX;
const FLAG_COMPLEX: u16 = 0x0001;
const FLAG_SPARSE: u8 = 0x01;

/// One value of a resource in one configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The value as a string, when it is one (a text, or a file path like `res/mipmap-hdpi/icon.png`).
    pub string: Option<String>,
    /// A reference to another resource, when it is one.
    pub reference: Option<u32>,
    /// Screen density of the configuration (0 = any).
    pub density: u16,
    /// Whether the configuration has a language (a translation).
    pub localized: bool,
}

/// The resource table of an APK.
pub struct ResourceTable<'a> {
    data: Bytes<'a>,
}

impl<'a> ResourceTable<'a> {
    /// Checks the header.
    pub fn parse(data: &'a [u8]) -> Result<ResourceTable<'a>, ApkError> {
        let bytes = Bytes { data };
        let (kind, _, _) = bytes.chunk(0)?;
        if kind != RES_TABLE_TYPE {
            return Err(ApkError::Malformed(format!("resources.arsc starts with chunk {kind:#06x}")));
        }
        Ok(ResourceTable { data: bytes })
    }

    /// Every configuration's value of resource `id`.
    pub fn values(&self, id: u32) -> Result<Vec<Candidate>, ApkError> {
        let (package_id, type_id, entry_id) = (id >> 24, ((id >> 16) & 0xff) as u8, (id & 0xffff) as usize);
        let (_, header, table) = self.data.chunk(0)?;
        let mut global = None;
        let mut found = Vec::new();
        let mut at = header;
        while at < table.data.len() {
            let (kind, header, chunk) = table.chunk(at)?;
            at += chunk.data.len();
            match kind {
                RES_STRING_POOL_TYPE => global = Some(StringPool::parse(chunk)?),
                RES_TABLE_PACKAGE_TYPE if chunk.u32(8)? == package_id => {
                    let pool =
                        global.as_ref().ok_or_else(|| ApkError::Malformed("package before string pool".into()))?;
                    let mut inner = header;
                    while inner < chunk.data.len() {
                        let (kind, type_header, type_chunk) = chunk.chunk(inner)?;
                        inner += type_chunk.data.len();
                        if kind == RES_TABLE_TYPE_TYPE
                            && type_chunk.u8(8)? == type_id
                            && let Some(c) = entry(type_chunk, type_header, entry_id, pool)?
                        {
                            found.push(c);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(found)
    }
}

/// The value of entry `index` in one type chunk, if that configuration has it.
fn entry(chunk: Bytes<'_>, header: usize, index: usize, pool: &StringPool<'_>) -> Result<Option<Candidate>, ApkError> {
    let flags = chunk.u8(9)?;
    let count = chunk.u32(12)? as usize;
    let entries_start = chunk.u32(16)? as usize;
    // ResTable_config starts at 20: size, mcc, mnc, language[2], country[2], orientation,
    // touchscreen, density.
    let config = 20;
    let localized = chunk.u16(config + 8)? != 0;
    let density = chunk.u16(config + 14)?;
    let offset = if flags & FLAG_SPARSE != 0 {
        // Sparse: (entry index u16, offset/4 u16) pairs sorted by index.
        let mut found = None;
        for i in 0..count {
            let pair = header + i * 4;
            if chunk.u16(pair)? as usize == index {
                found = Some(chunk.u16(pair + 2)? as u32 * 4);
                break;
            }
        }
        match found {
            Some(o) => o,
            None => return Ok(None),
        }
    } else {
        if index >= count {
            return Ok(None);
        }
        chunk.u32(header + index * 4)?
    };
    if offset == NO_ENTRY {
        return Ok(None);
    }
    let at = entries_start.checked_add(offset as usize).ok_or_else(|| ApkError::Malformed("entry offset".into()))?;
    let entry_size = chunk.u16(at)? as usize;
    let entry_flags = chunk.u16(at + 2)?;
    if entry_flags & FLAG_COMPLEX != 0 {
        // A bag (style, plural, array): not a simple value.
        return Ok(None);
    }
    let value = at + entry_size;
    let data_type = chunk.u8(value + 3)?;
    let data = chunk.u32(value + 4)?;
    Ok(Some(Candidate {
        string: if data_type == 0x03 { pool.get(data)? } else { None },
        reference: (data_type == 0x01).then_some(data),
        density,
        localized,
    }))
}
