//! WAV (RIFF) read/write for mono PCM16, plus reading PCM16/μ-law/8-bit files with any
//! channel count (mixed down to mono). Tolerant of the bogus sizes that streaming writers
//! such as `espeak-ng --stdout` put in the header.

use super::Frame;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WavError {
    #[error("not a RIFF/WAVE file")]
    NotWav,
    #[error("WAV header is truncated")]
    Truncated,
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
}

/// The parts of a `fmt ` chunk we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// 1 = PCM, 7 = μ-law (0xFFFE extensible is resolved to its sub-format).
    pub format: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
}

impl WavFormat {
    fn block_align(&self) -> usize {
        (self.channels as usize) * (self.bits_per_sample as usize / 8)
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parse the header of a WAV byte stream. `Ok(None)` means more bytes are needed;
/// `Ok(Some((format, offset)))` gives where the sample data starts.
pub fn parse_header(b: &[u8]) -> Result<Option<(WavFormat, usize)>, WavError> {
    if b.len() < 12 {
        return if b.len() >= 4 && &b[..4] != b"RIFF" {
            Err(WavError::NotWav)
        } else {
            Ok(None)
        };
    }
    if &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut pos = 12;
    let mut fmt: Option<WavFormat> = None;
    loop {
        if b.len() < pos + 8 {
            return Ok(None);
        }
        let id = &b[pos..pos + 4];
        let size = u32_at(b, pos + 4) as usize;
        let body = pos + 8;
        if id == b"data" {
            let fmt = fmt.ok_or_else(|| WavError::Unsupported("data before fmt chunk".into()))?;
            return Ok(Some((fmt, body)));
        }
        if b.len() < body + size {
            return Ok(None);
        }
        if id == b"fmt " {
            if size < 16 {
                return Err(WavError::Truncated);
            }
            let mut format = u16_at(b, body);
            if format == 0xFFFE && size >= 26 {
                format = u16_at(b, body + 24);
            }
            let f = WavFormat {
                format,
                channels: u16_at(b, body + 2),
                sample_rate: u32_at(b, body + 4),
                bits_per_sample: u16_at(b, body + 14),
            };
            let ok = f.channels > 0
                && f.sample_rate > 0
                && matches!((f.format, f.bits_per_sample), (1, 16) | (1, 8) | (7, 8));
            if !ok {
                return Err(WavError::Unsupported(format!(
                    "format {} with {} bits",
                    f.format, f.bits_per_sample
                )));
            }
            fmt = Some(f);
        }
        pos = body + size + (size & 1);
    }
}

/// Decode sample data of `format` to mono PCM16 (channels are averaged). Trailing
/// partial blocks are ignored.
pub fn decode_samples(format: &WavFormat, data: &[u8]) -> Vec<i16> {
    let align = format.block_align().max(1);
    let ch = format.channels as usize;
    let sample = |bytes: &[u8], i: usize| -> i32 {
        match (format.format, format.bits_per_sample) {
            (1, 16) => i16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]) as i32,
            (1, 8) => ((bytes[i] as i32) - 128) << 8,
            (7, 8) => super::mulaw::decode_sample(bytes[i]) as i32,
            _ => 0,
        }
    };
    data.chunks_exact(align)
        .map(|block| {
            let sum: i32 = (0..ch).map(|c| sample(block, c)).sum();
            (sum / ch as i32) as i16
        })
        .collect()
}

/// Read a whole WAV file held in memory as a mono frame.
pub fn read(bytes: &[u8]) -> Result<Frame, WavError> {
    let (fmt, offset) = parse_header(bytes)?.ok_or(WavError::Truncated)?;
    // The data chunk's size may be bogus (0 or 0xFFFFFFFF from streaming writers): trust
    // the size only when it fits in the file.
    let declared = u32_at(bytes, offset - 4) as usize;
    let end = if declared > 0 && offset + declared <= bytes.len() {
        offset + declared
    } else {
        bytes.len()
    };
    Ok(Frame::new(
        decode_samples(&fmt, &bytes[offset..end]),
        fmt.sample_rate,
    ))
}

/// Encode mono PCM16 as a WAV file.
pub fn write(frame: &Frame) -> Vec<u8> {
    let data_len = (frame.samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&frame.sample_rate.to_le_bytes());
    out.extend_from_slice(&(frame.sample_rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in &frame.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip() {
        let samples: Vec<i16> = (0..16000)
            .map(|i| ((i * 37) % 65536 - 32768) as i16)
            .collect();
        let frame = Frame::new(samples, 16000);
        let bytes = write(&frame);
        assert_eq!(bytes.len(), 44 + 32000);
        assert_eq!(read(&bytes).unwrap(), frame);
    }

    #[test]
    fn streaming_header_with_bogus_sizes_and_extra_chunks() {
        let frame = Frame::new(vec![1, -2, 3, -4], 22050);
        let mut bytes = write(&frame);
        // A LIST chunk before data, and data size 0xFFFFFFFF like a pipe writer.
        let list = b"LIST\x04\x00\x00\x00abcd";
        bytes.splice(36..36, list.iter().copied());
        let data_size_at = 36 + list.len() + 4;
        bytes[data_size_at..data_size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read(&bytes).unwrap(), frame);
        // Partial headers ask for more bytes.
        assert_eq!(parse_header(&bytes[..20]).unwrap(), None);
        assert!(parse_header(b"OggS....").is_err());
    }

    #[test]
    fn stereo_and_mulaw_are_mixed_to_mono_pcm() {
        let fmt = WavFormat {
            format: 1,
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
        };
        let data = crate::audio::pcm16_to_le_bytes(&[100, 300, -100, -300]);
        assert_eq!(decode_samples(&fmt, &data), vec![200, -200]);
        let ulaw = WavFormat {
            format: 7,
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 8,
        };
        assert_eq!(decode_samples(&ulaw, &[0xFF, 0x80]), vec![0, 32124]);
    }
}
