#!/usr/bin/env bash
# Make the placeholder video and thumbnail that replace an archived entry's video in Kaltura, reproducibly:
# the same ffmpeg gives the same bytes. Both files are committed, so nothing else needs ffmpeg.
# Needs Debian's ffmpeg and fonts-dejavu-core (`apt-get install ffmpeg fonts-dejavu-core`).
# Usage: placeholders/generate.sh [DIR]   (default: this script's directory)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here}"
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
for need in ffmpeg "$font"; do
    if ! command -v "$need" >/dev/null 2>&1 && [ ! -f "$need" ]; then
        echo "placeholders/generate.sh needs $need: run 'apt-get install ffmpeg fonts-dejavu-core' and retry" >&2
        exit 2
    fi
done
mkdir -p "$out"
text="$(mktemp)"
trap 'rm -f "$text"' EXIT
# what a viewer reads instead of the lecture; drawtext reads it from a file, so no quoting rules apply
cat > "$text" <<'TEXT'
This video has been archived.

It had not been played for years, so its
recording was moved to long-term storage.

Playing it asks for it back: the recording
returns here within two days.
Please come back and play it again then.
TEXT
# a dark slate with the text in the middle: 1280x720, 25 fps, 6 s, and a silent stereo AAC track, since
# Kaltura's transcoding profiles expect a video with sound
frame="color=c=0x1d2733:s=1280x720:r=25:d=6,drawtext=fontfile=$font:textfile=$text:fontcolor=white"
frame="$frame:fontsize=40:line_spacing=14:x=(w-text_w)/2:y=(h-text_h)/2"
# -threads 1 and the bitexact flags keep the bytes the same from run to run (no encoder version string,
# no creation time, no thread-dependent decisions)
bitexact=(-threads 1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "$frame" -f lavfi -i "anullsrc=r=48000:cl=stereo" \
    -map 0:v -map 1:a -t 6 "${bitexact[@]}" \
    -c:v libx264 -preset veryslow -tune stillimage -crf 30 -pix_fmt yuv420p -profile:v main \
    -x264-params "threads=1" \
    -c:a aac -b:a 32k -ac 2 \
    -movflags +faststart \
    "$out/placeholder_video.mp4"
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "$frame" -frames:v 1 "${bitexact[@]}" -q:v 3 -pix_fmt yuvj420p \
    "$out/placeholder_image.jpeg"
# the same ffmpeg gives the same bytes; tests compare the bytes only when this line matches theirs
ffmpeg -version | head -n 1 > "$out/generated-with.txt"
echo "wrote $out/placeholder_video.mp4 and $out/placeholder_image.jpeg with $(cat "$out/generated-with.txt")"
