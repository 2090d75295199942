#!/usr/bin/env bash
# Render the built-in IVR prompts listed in ivr/prompts.tsv into
# ivr/prompts/<language>/<name>.wav, and the hold music into
# ivr/prompts/hold_music.wav, which serves every language. All files are
# 8 kHz mono 16-bit PCM WAV.
#
# Needs espeak-ng (text to speech) and sox (resampling, level, hold music).
# On Debian or Ubuntu: apt-get install espeak-ng sox
#
# Usage: scripts/gen-prompts.sh
# Safe to run again: every file is rendered from scratch and overwritten, and
# the output does not change between runs on the same tool versions.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
readonly prompt_list="$repo_root/ivr/prompts.tsv"
readonly out_dir="$repo_root/ivr/prompts"

# Output format of every prompt: what the media package plays to a caller.
readonly sample_rate=8000
readonly bits=16

# Sample rate of the WAV files that espeak-ng 1.51 writes. The pause between
# rows is made at this rate so that sox can join it to the rows.
readonly espeak_rate=22050

# Speech settings: espeak-ng words per minute (its default is 175), the pause
# between rows of one prompt, and the silence added before and after it.
readonly speech_wpm=150
readonly row_pause_s=0.4
readonly lead_in_s=0.2
readonly tail_s=0.3
# Peak level of speech in dBFS. The high-pass filter removes rumble that a
# phone line cannot carry anyway.
readonly speech_peak_db=-3
readonly highpass_hz=120
# Gain before the filter, so that a peak near full scale cannot clip in it.
readonly filter_headroom_db=-6

# Hold music: one plucked note per beat, 16 beats (8 s). The peak is kept low
# so that the music stays in the background.
readonly beat_s=0.5
readonly music_peak_db=-15
# A slow pentatonic tune in C that ends on a rest, so the loop restarts
# without a click. Frequencies are in Hz, and 0 is a rest.
readonly melody_hz="659.25 783.99 880.00 783.99 659.25 587.33 523.25 587.33
659.25 587.33 523.25 440.00 392.00 440.00 523.25 0"

require() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "gen-prompts.sh: $1 not found; install it (Debian or Ubuntu: apt-get install $2) and run again" >&2
		exit 1
	fi
}

# render_speech VOICE TEXT OUT renders one row at espeak-ng's own rate.
render_speech() {
	espeak-ng -v "$1" -s "$speech_wpm" -w "$3" "$2"
}

# finish_prompt IN OUT converts IN to the prompt format, sets its level and
# pads it with silence. The level is set after resampling, because the
# resampler's low-pass filter lowers the peaks. -D turns dither off so that
# runs are repeatable.
finish_prompt() {
	sox -D "$1" -r "$sample_rate" -c 1 -b "$bits" -e signed-integer "$2" \
		gain "$filter_headroom_db" rate "$sample_rate" highpass "$highpass_hz" \
		norm "$speech_peak_db" pad "$lead_in_s" "$tail_s"
}

render_prompts() {
	local work="$1"
	local lang name voice text key row=0
	local -a order=()
	declare -A parts=()

	while IFS=$'\t' read -r lang name voice text; do
		if [[ -z "$lang" || "$lang" == \#* ]]; then
			continue
		fi
		if [[ -z "$name" || -z "$voice" || -z "$text" ]]; then
			echo "gen-prompts.sh: $prompt_list: row for '$lang' needs four tab-separated columns" >&2
			exit 1
		fi

		row=$((row + 1))
		key="$lang/$name"
		local part="$work/part-$row.wav"
		render_speech "$voice" "$text" "$part"

		if [[ -z "${parts[$key]:-}" ]]; then
			order+=("$key")
			parts[$key]="$part"
		else
			parts[$key]="${parts[$key]} $work/pause.wav $part"
		fi
	done <"$prompt_list"

	for key in "${order[@]}"; do
		mkdir -p "$out_dir/${key%/*}"
		# shellcheck disable=SC2086 # the list holds generated paths without spaces
		sox -D ${parts[$key]} "$work/joined.wav"
		finish_prompt "$work/joined.wav" "$out_dir/$key.wav"
		echo "wrote ivr/prompts/$key.wav"
	done
}

render_hold_music() {
	local work="$1"
	local -a notes=()
	local hz i=0

	for hz in $melody_hz; do
		i=$((i + 1))
		local note="$work/note-$i.wav"
		if [[ "$hz" == 0 ]]; then
			sox -D -n -r "$sample_rate" -c 1 -b "$bits" "$note" trim 0 "$beat_s"
		else
			sox -D -n -r "$sample_rate" -c 1 -b "$bits" "$note" \
				synth "$beat_s" pluck "$hz" fade q 0.01 "$beat_s" 0.15
		fi
		notes+=("$note")
	done

	sox -D "${notes[@]}" -r "$sample_rate" -c 1 -b "$bits" -e signed-integer \
		"$out_dir/hold_music.wav" norm "$music_peak_db"
	echo "wrote ivr/prompts/hold_music.wav"
}

# Scratch folder for rendered parts, removed on exit.
work=""

main() {
	require espeak-ng espeak-ng
	require sox sox

	work="$(mktemp -d)"
	trap 'rm -rf "$work"' EXIT

	sox -D -n -r "$espeak_rate" -c 1 -b "$bits" "$work/pause.wav" trim 0 "$row_pause_s"
	render_prompts "$work"
	render_hold_music "$work"
}

main "$@"
