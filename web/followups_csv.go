package web

import (
	"fmt"
	"time"

	"helpline/records"
)

// Languages of the follow-up CSV export (query parameter lang).
const (
	exportLangEnglish = "en"
	exportLangKorean  = "ko"
)

// exportFileDate is the layout of the date in an export's file name.
const exportFileDate = "20060102"

// koreanFollowUpHeader is the header row of an export with lang=ko, in
// records.FollowUpCSVHeader order.
var koreanFollowUpHeader = []string{
	"작업 번호", "통화 ID", "종류", "생성 경로", "위험도", "자치구", "처리 기한", "담당자", "상태", "결과",
	"전화번호", "메모", "생성 시각(UTC)", "수정 시각(UTC)", "종결 시각(UTC)",
}

// koreanFollowUpValues translates the stored English codes of an export
// with lang=ko, by column. A value missing here is written as stored, so
// free text such as a typed outcome stays as typed unless it is exactly
// one of these codes.
var koreanFollowUpValues = map[string]map[string]string{
	"kind": {
		"callback": "콜백", "counseling": "추가 상담", "home_visit": "가정 방문", "emergency": "긴급 출동",
		"interrupted": "끊긴 통화",
	},
	"origin": {"wrap_up": "상담 정리", "server_callback": "콜백 요청", "interrupted": "통화 끊김"},
	"risk":   {"none": "없음", "low": "낮음", "medium": "보통", "high": "높음", "imminent": "긴급", "": "미평가"},
	"state":  {"open": "진행 중", "closed": "종결"},
	"outcome": {
		records.OutcomeCallbackCompleted: "콜백 완료",
		records.OutcomeCallbackCancelled: "콜백 취소",
		records.OutcomeWrapUpReplaced:    "상담 정리 교체",
	},
	"number": {"withheld": "번호 없음", "undecryptable": "복호화 실패"},
	"notes":  {"undecryptable": "복호화 실패"},
}

// translateKorean returns the Korean text of a stored value of column.
func translateKorean(column, value string) string {
	if text, ok := koreanFollowUpValues[column][value]; ok {
		return text
	}
	return value
}

// followUpCSVOptions returns the export options for lang, which is "",
// "en" or "ko".
func followUpCSVOptions(lang string, reveal bool) (records.FollowUpCSVOptions, error) {
	switch lang {
	case "", exportLangEnglish:
		return records.FollowUpCSVOptions{Reveal: reveal}, nil
	case exportLangKorean:
		return records.FollowUpCSVOptions{Reveal: reveal, Header: koreanFollowUpHeader, Translate: translateKorean}, nil
	default:
		return records.FollowUpCSVOptions{}, &records.FieldError{Field: "lang",
			Problem: fmt.Sprintf("%q is not supported: use en for English codes or ko for Korean headers and values", lang)}
	}
}

// followUpExportName returns the file name of an export made at now:
// followups-masked-YYYYMMDD.csv, or followups-numbers-YYYYMMDD.csv with
// full numbers, so that the two never overwrite each other.
func followUpExportName(now time.Time, reveal bool) string {
	kind := "masked"
	if reveal {
		kind = "numbers"
	}
	return fmt.Sprintf("followups-%s-%s.csv", kind, now.Format(exportFileDate))
}
