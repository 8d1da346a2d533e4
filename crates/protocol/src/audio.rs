//! The audio file format of the API and the level it reports: 16-bit PCM WAV (what
//! `GET /v1/instances/{id}/audio` answers, what `PUT …/microphone` takes, what the native viewer
//! records) and dBFS (`level_db` of the microphone).

/// Bytes in the header [`wav_header`] writes.
pub const WAV_HEADER_BYTES: usize = 44;

/// The header of a mono 16-bit PCM WAV file holding `data_bytes` bytes of samples.
pub fn wav_header(sample_rate: u32, data_bytes: u32) -> [u8; WAV_HEADER_BYTES] {
    let mut header = [0u8; WAV_HEADER_BYTES];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36 + data_bytes).to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(), // PCM
        &1u16.to_le_bytes(), // mono
        &sample_rate.to_le_bytes(),
        &(sample_rate * 2).to_le_bytes(), // bytes per second
        &2u16.to_le_bytes(),              // bytes per frame
        &16u16.to_le_bytes(),             // bits per sample
        b"data",
        &data_bytes.to_le_bytes(),
        &[],
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// A mono 16-bit PCM WAV file of `samples`.
pub fn encode_wav(sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_bytes = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(WAV_HEADER_BYTES + samples.len() * 2);
    out.extend_from_slice(&wav_header(sample_rate, data_bytes));
    out.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
    out
}

/// Level of a block of samples, dBFS, -90 for silence.
pub fn level_dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -90.0;
    }
    let mean_square = samples.iter().map(|s| (*s as f64 / i16::MAX as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    if mean_square <= 0.0 { -90.0 } else { (10.0 * mean_square.log10()).max(-90.0) as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_file_is_its_header_then_its_samples() {
        let wav = encode_wav(8000, &[1, -2]);
        assert_eq!(wav.len(), WAV_HEADER_BYTES + 4);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 36 + 4);
        assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 8000);
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 4);
        assert_eq!(&wav[44..], &[1, 0, 0xfe, 0xff]);
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbfs(&[]), -90.0);
        assert_eq!(level_dbfs(&[0; 10]), -90.0);
        assert!((level_dbfs(&[i16::MAX; 10])).abs() < 0.01, "full scale is 0 dBFS");
    }
}
