#!/usr/bin/env bash
# Regenerates the sample prompt set from prompts.tsv: English and Spanish speech (espeak-ng),
# the number words used to say queue positions and waiting times, and a royalty-free hold
# music loop (sox synth chords). Every file is 8 kHz mono 16-bit PCM WAV; sox runs with -R
# (repeatable dither), so two runs give the same files.
#
#   dialplans/prompts/generate.sh            (writes en/, es/ and music/ beside this script)
#
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v espeak-ng >/dev/null && command -v sox >/dev/null || {
  echo "generate.sh: needs espeak-ng and sox: apt-get install -y espeak-ng sox" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

say() { # say LANG VOICE NAME TEXT
  mkdir -p "$here/$1"
  espeak-ng -v "$2" -s 150 -w "$tmp/raw.wav" "$4"
  # Trim silence at both ends, normalise, 8 kHz mono 16-bit.
  sox -R "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$here/$1/$3.wav" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
}

while IFS=$'\t' read -r name en es; do
  case "$name" in ''|'#'*) continue ;; esac
  say en en-gb "$name" "$en"
  say es es "$name" "$es"
done < "$here/prompts.tsv"

# Number words for "you are number 3 in the queue" and "about 4 minutes".
for n in $(seq 0 19) 20 30 40 50 60 70 80 90; do say en en-gb "$n" "$n"; done
say en en-gb hundred "hundred"; say en en-gb thousand "thousand"
for n in $(seq 0 29) 30 40 50 60 70 80 90 100 200 300 400 500 600 700 800 900; do say es es "$n" "$n"; done
say es es y "y"; say es es ciento "ciento"; say es es mil "mil"; say es es un "un"

# Hold music: a slow I-vi-IV-V progression of soft sine chords, twice.
mkdir -p "$here/music"
chord() { sox -R -n -r 8000 -c 3 -b 16 "$tmp/c3.wav" synth 2 sine "$2" sine "$3" sine "$4"
          sox -R "$tmp/c3.wav" -c 1 "$tmp/$1.wav" remix 1-3 fade t 0.15 2 0.35; }
chord c 261.63 329.63 392.00; chord am 220.00 261.63 329.63
chord f 174.61 220.00 261.63; chord g 196.00 246.94 293.66
sox -R "$tmp/c.wav" "$tmp/am.wav" "$tmp/f.wav" "$tmp/g.wav" "$tmp/c.wav" "$tmp/am.wav" "$tmp/f.wav" "$tmp/g.wav" \
    -r 8000 -c 1 -b 16 -e signed-integer "$here/music/hold.wav" gain -n -8
echo "generate.sh: $(find "$here" -name '*.wav' | wc -l) prompts"
