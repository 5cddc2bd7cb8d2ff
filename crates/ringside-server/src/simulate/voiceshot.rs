//! voiceshot scenarios
