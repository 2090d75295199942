// Shared code of the helpline pages: session, JSON requests with the CSRF
// header, the Korean and English dictionaries, the language switch, live
// updates over EventSource, dialogs and time formatting.

const LANG_KEY = "hl_lang";
const DEFAULT_LANG = "ko";
// How long to wait before opening a stream again after the browser closed
// it for good (an HTTP error status stops EventSource's own reconnection).
const STREAM_REOPEN_MS = 5000;
// How long a success notice shows before it fades; errors stay until
// closed or until the next successful action.
const SUCCESS_NOTICE_MS = 5000;
// How long the fade of a success notice takes; app.css has the same time.
const NOTICE_FADE_MS = 600;

const dictionaries = {
  ko: {
    "app.name": "외로움안녕120",
    "nav.board": "상황판",
    "nav.console": "상담 화면",
    "nav.followups": "후속 조치",
    "nav.signout": "나가기",
    "nav.lang": "언어",
    "nav.menu": "메뉴",
    "nav.who": "{user} ({role})",
    "role.counselor": "상담사",
    "role.supervisor": "감독자",
    "role.followup": "후속 조치 담당",
    "role.admin": "관리자",
    "conn.lost": "연결 끊김, 다시 연결 중…",
    "error.network": "서버에 연결하지 못했습니다. 네트워크를 확인하고 다시 시도하십시오.",
    "error.status": "요청이 실패했습니다 (HTTP {status}).",
    "error.400": "입력을 확인하십시오",
    "error.403": "권한이 없습니다",
    "error.404": "찾을 수 없습니다",
    "error.409": "지금 상태에서는 할 수 없습니다",
    "error.429": "요청이 너무 많습니다. 잠시 뒤 다시 시도하십시오",
    "error.5xx": "서버 오류입니다. 잠시 뒤 다시 시도하십시오",
    "notice.close": "닫기",
    "dialog.ok": "확인",
    "dialog.cancel": "취소",
    "dialog.close": "닫기",
    "dialog.required": "값을 입력하십시오.",
    "dialog.too_long": "{max}자 이하로 입력하십시오.",

    "state.logged_out": "로그아웃 상태",
    "state.available": "응대 가능",
    "state.offered": "연결 중",
    "state.on_call": "통화 중",
    "state.wrap_up": "정리 중",
    "state.break": "휴식",

    "lang.ko": "한국어",
    "lang.en": "영어",
    "caller.self": "본인",
    "caller.someone_else": "주변인 상담",
    "kind.call": "통화 대기",
    "kind.callback": "콜백",
    "risk.none": "없음",
    "risk.low": "낮음",
    "risk.medium": "보통",
    "risk.high": "높음",
    "risk.imminent": "긴급",
    "badge.high_risk": "고위험",

    "reporter.self": "본인",
    "reporter.family": "가족",
    "reporter.friend": "친구",
    "reporter.neighbour": "이웃",
    "reporter.other": "기타",
    "followup.none": "없음",
    "followup.callback": "콜백",
    "followup.counseling": "추가 상담",
    "followup.home_visit": "가정 방문",
    "followup.emergency": "긴급 출동",
    "followup.interrupted": "끊긴 통화",
    "origin.wrap_up": "상담 정리",
    "origin.server_callback": "콜백 요청",
    "origin.interrupted": "통화 끊김",
    "fstate.open": "진행 중",
    "fstate.closed": "종결",

    "outcome.answered": "상담 완료",
    "outcome.abandoned_in_ivr": "안내 중 종료",
    "outcome.abandoned_in_queue": "대기 중 포기",
    "outcome.no_common_codec": "연결 실패(코덱)",
    "outcome.rejected": "거절됨",
    "outcome.transferred": "전환됨",
    "outcome.failed": "실패",
    "outcome.ended_in_ivr": "안내 후 종료",
    "outcome.interrupted": "끊김",
    "outcome.callback_requested": "콜백 요청",
    "outcome.overflow_callback": "콜백 전환",
    "outcome.overflow_transferred": "다른 기관 연결",
    "outcome.callback_completed": "콜백 완료",
    "outcome.callback_cancelled": "콜백 취소됨",
    "outcome.wrap_up_replaced": "상담 정리를 다시 저장함",

    "board.title": "상황판",
    "board.alerts": "경보",
    "board.no_alerts": "경보 없음",
    "board.queues": "대기열",
    "board.queue_waiting": "대기 {count}명",
    "board.longest": "최장 대기",
    "board.no_waiting": "기다리는 분이 없습니다.",
    "board.col_number": "번호",
    "board.col_wait": "대기 시간",
    "board.col_lang": "언어",
    "board.col_type": "구분",
    "board.col_kind": "방식",
    "board.col_actions": "조치",
    "board.offered_to": "{id}번에 연결 중",
    "board.counselors": "상담사",
    "board.col_name": "상담사",
    "board.col_state": "상태",
    "board.col_since": "상태 시간",
    "board.col_calls": "오늘 통화",
    "board.col_call": "현재 통화",
    "board.not_registered": "전화기 미등록",
    "board.missed": "연결 놓침",
    "board.emergency_calling": "{target} 연결 중",
    "board.emergency_joined": "{target} 연결됨",
    "board.today": "오늘",
    "board.last_hour": "최근 1시간",
    "board.chart": "오늘 대기 인원과 서비스 수준",
    "board.chart_empty": "아직 오늘 기록이 없습니다.",
    "board.legend_waiting": "대기 인원",
    "board.legend_sl": "서비스 수준(%)",
    "board.chart_label": "오늘 대기 인원과 서비스 수준 그래프, 최근 값: 대기 {waiting}명, 서비스 수준 {sl}",
    "board.updated": "{time} 기준",
    "fig.offered": "인입",
    "fig.answered": "응답",
    "fig.abandoned": "포기",
    "fig.abandon_rate": "포기율",
    "fig.service_level": "서비스 수준 ({s}초 내)",
    "fig.asa_s": "평균 응답 시간",
    "fig.aht_s": "평균 처리 시간",
    "fig.callbacks_pending": "남은 콜백",
    "act.pause": "휴식 전환",
    "act.resume": "업무 복귀",
    "act.priority": "고위험 지정",
    "act.cancel_callback": "콜백 취소",
    "act.listen": "통화 듣기",
    "ask.pause_title": "{name} 상담사 휴식 전환",
    "ask.pause_label": "휴식 사유",
    "ask.priority": "{number} 전화하신 분을 고위험으로 지정하여 맨 앞으로 올릴까요?",
    "ask.cancel_callback": "{number} 콜백을 취소할까요? 되돌릴 수 없습니다.",
    "ask.cancel_callback_ok": "콜백 취소하기",
    "ask.supervisor_title": "감독자 내선 번호",
    "ask.supervisor_label": "듣기에 쓸 내 SIP 번호 (한 번만 묻습니다)",
    "done.pause": "휴식으로 전환했습니다.",
    "done.resume": "업무로 복귀시켰습니다.",
    "done.priority": "고위험으로 지정했습니다.",
    "done.cancel_callback": "콜백을 취소했습니다.",
    "done.listen": "{id}번 전화기로 연결합니다. 전화를 받으십시오.",
    "alert.high_risk_waiting": "고위험으로 분류된 분 대기: {queue} 대기열, {since}부터",
    "alert.long_wait": "장시간 대기: {queue} 대기열, {since}부터",
    "alert.no_counselor": "받을 수 있는 상담사 없음: 모든 상담사가 로그아웃했습니다.",
    "alert.no_available": "응대 가능한 상담사 없음: 기다리는 분이 있는데 로그인한 상담사가 모두 휴식 중입니다.",
    "alert.missed_pause": "연결 놓침으로 휴식 전환: 상담사 {counselor}, {since}",
    "alert.emergency_failed": "{target} 연결 실패: 상담사 {counselor}의 통화, {since} ({reason})",
    "emergency.reason.timeout": "응답 없음",
    "emergency.reason.busy": "통화 중",
    "emergency.reason.rejected": "거절됨",
    "emergency.reason.rejected_status": "거절됨, SIP {status}",
    "emergency.reason.unreachable": "연결할 수 없음",
    "emergency.reason.no_route": "외부 회선이 설정되지 않음",
    "emergency.reason.not_joined": "받았지만 통화에 넣지 못함",
    "alert.unknown": "경보: {kind}",

    "console.title": "상담 화면",
    "console.state": "내 상태",
    "console.state_of": "{name} ({id})",
    "console.since": "{time}째",
    "console.login": "로그인",
    "console.resume": "휴식 끝내기",
    "console.break": "휴식",
    "console.break_reason": "휴식 사유",
    "console.break_placeholder": "예: 점심, 교육",
    "console.logout": "로그아웃",
    "console.end_wrapup": "정리 끝내기",
    "console.wrapup_until": "정리 시간 끝: {time}",
    "console.not_registered": "전화기가 등록되지 않았습니다. 소프트폰을 켜십시오.",
    "console.pick_counselor": "볼 상담사 번호를 주소에 ?counselor=번호 로 붙이십시오.",
    "console.pop": "전화하신 분 정보",
    "console.no_call": "연결된 통화가 없습니다.",
    "console.phase.offered": "전화가 오고 있습니다",
    "console.phase.on_call": "통화 중",
    "console.phase.wrap_up": "통화 정리",
    "console.queue": "대기열",
    "console.digits": "선택 경로",
    "console.language": "언어",
    "console.caller_type": "구분",
    "console.wait": "대기 시간",
    "console.kind": "방식",
    "console.history": "이전 상담 기록",
    "console.no_history": "이전 상담 기록이 없습니다.",
    "console.col_date": "일시",
    "console.col_outcome": "결과",
    "console.col_risk": "위험도",
    "console.col_summary": "요약",
    "console.col_followup": "후속 조치",
    "console.open_followups": "진행 중인 후속 조치",
    "console.emergency": "긴급 기관 연결",
    "console.emergency_target": "연결할 기관",
    "console.target.119": "119 (소방·구급)",
    "console.target.112": "112 (경찰)",
    "console.target.109": "109 (자살예방상담)",
    "console.ask_emergency": "연결할 기관: {target}. 지금 통화에 연결할까요?",
    "console.done_emergency": "{target}에 전화를 걸고 있습니다.",
    "wrapup.title": "상담 정리",
    "wrapup.reporter": "전화하신 분",
    "wrapup.isolation": "사회적 고립 점검 (해당하는 항목 선택)",
    "wrapup.q1": "최근 일주일 동안 가족이나 지인과 연락한 적이 없다",
    "wrapup.q2": "어려울 때 도움을 청할 사람이 없다",
    "wrapup.q3": "거의 집 밖에 나가지 않는다",
    "wrapup.q4": "끼니를 자주 거른다",
    "wrapup.q5": "외로움 때문에 일상생활이 힘들다고 말했다",
    "wrapup.score": "점수: {score} / 5",
    "wrapup.risk": "위험도",
    "wrapup.notes": "상담 내용",
    "wrapup.followup": "후속 조치",
    "wrapup.due_date": "처리 기한",
    "wrapup.district": "자치구",
    "wrapup.district_placeholder": "예: 마포구",
    "wrapup.submit": "정리 저장",
    "wrapup.saved": "상담 정리를 저장했습니다.",
    "wrapup.already_saved": "이 통화의 정리는 저장되었습니다.",
    "wrapup.choose": "선택하십시오",
    "wrapup.missing": "다음 항목을 채우십시오: {fields}",

    "followups.title": "후속 조치",
    "followups.filters": "조건",
    "followups.kind": "종류",
    "followups.district": "자치구",
    "followups.risk": "위험도",
    "followups.state": "상태",
    "followups.all": "전체",
    "followups.export": "CSV 내려받기 (번호 가림)",
    "followups.export_numbers": "번호 포함 CSV 내려받기",
    "followups.count": "{count}건",
    "followups.refresh": "새로 고침",
    "followups.created": "{time} 생성",
    "followups.empty": "조건에 맞는 후속 조치가 없습니다.",
    "followups.col_risk": "위험도",
    "followups.col_kind": "종류",
    "followups.col_district": "자치구",
    "followups.col_due": "기한",
    "followups.col_owner": "담당자",
    "followups.col_number": "번호",
    "followups.col_state": "상태",
    "followups.col_notes": "메모",
    "followups.col_actions": "조치",
    "followups.unassigned": "미지정",
    "followups.overdue": "기한 지남",
    "act.assign": "담당 지정",
    "act.note": "메모 추가",
    "act.close": "종결",
    "act.reveal": "번호 보기",
    "act.hide": "가리기",
    "ask.assign_title": "담당자 지정",
    "ask.assign_label": "담당자 로그인 이름",
    "ask.note_title": "메모 추가",
    "ask.note_label": "메모",
    "ask.close_title": "후속 조치 종결",
    "ask.close_label": "결과 (200자 이내)",
    "done.assign": "담당자를 지정했습니다.",
    "done.note": "메모를 추가했습니다.",
    "done.close": "종결했습니다.",
  },
  en: {
    "app.name": "Goodbye Loneliness 120",
    "nav.board": "Board",
    "nav.console": "Console",
    "nav.followups": "Follow-ups",
    "nav.signout": "Sign out",
    "nav.lang": "Language",
    "nav.menu": "Menu",
    "nav.who": "{user} ({role})",
    "role.counselor": "counselor",
    "role.supervisor": "supervisor",
    "role.followup": "follow-up team",
    "role.admin": "administrator",
    "conn.lost": "Disconnected, reconnecting…",
    "error.network": "Could not reach the server. Check the network and try again.",
    "error.status": "The request failed (HTTP {status}).",
    "error.400": "Check the input",
    "error.403": "Not allowed",
    "error.404": "Not found",
    "error.409": "Not possible in the current state",
    "error.429": "Too many requests; try again in a moment",
    "error.5xx": "Server error; try again in a moment",
    "notice.close": "Close",
    "dialog.ok": "OK",
    "dialog.cancel": "Cancel",
    "dialog.close": "Close",
    "dialog.required": "Enter a value.",
    "dialog.too_long": "Use at most {max} characters.",

    "state.logged_out": "Logged out",
    "state.available": "Available",
    "state.offered": "Ringing",
    "state.on_call": "On a call",
    "state.wrap_up": "Wrap-up",
    "state.break": "On break",

    "lang.ko": "Korean",
    "lang.en": "English",
    "caller.self": "Self",
    "caller.someone_else": "About someone else",
    "kind.call": "Live call",
    "kind.callback": "Callback",
    "risk.none": "None",
    "risk.low": "Low",
    "risk.medium": "Medium",
    "risk.high": "High",
    "risk.imminent": "Imminent",
    "badge.high_risk": "High risk",

    "reporter.self": "Self",
    "reporter.family": "Family",
    "reporter.friend": "Friend",
    "reporter.neighbour": "Neighbour",
    "reporter.other": "Other",
    "followup.none": "None",
    "followup.callback": "Callback",
    "followup.counseling": "Further counseling",
    "followup.home_visit": "Home visit",
    "followup.emergency": "Emergency dispatch",
    "followup.interrupted": "Interrupted call",
    "origin.wrap_up": "Wrap-up",
    "origin.server_callback": "Callback request",
    "origin.interrupted": "Call cut off",
    "fstate.open": "Open",
    "fstate.closed": "Closed",

    "outcome.answered": "Answered",
    "outcome.abandoned_in_ivr": "Hung up in the menu",
    "outcome.abandoned_in_queue": "Hung up while waiting",
    "outcome.no_common_codec": "Failed (codec)",
    "outcome.rejected": "Rejected",
    "outcome.transferred": "Transferred",
    "outcome.failed": "Failed",
    "outcome.ended_in_ivr": "Ended in the menu",
    "outcome.interrupted": "Interrupted",
    "outcome.callback_requested": "Callback requested",
    "outcome.overflow_callback": "Moved to callback",
    "outcome.overflow_transferred": "Sent to another service",
    "outcome.callback_completed": "Callback completed",
    "outcome.callback_cancelled": "Callback cancelled",
    "outcome.wrap_up_replaced": "Wrap-up saved again",

    "board.title": "Supervisor board",
    "board.alerts": "Alerts",
    "board.no_alerts": "No alerts",
    "board.queues": "Queues",
    "board.queue_waiting": "{count} waiting",
    "board.longest": "Longest wait",
    "board.no_waiting": "Nobody is waiting.",
    "board.col_number": "Number",
    "board.col_wait": "Wait",
    "board.col_lang": "Language",
    "board.col_type": "Caller",
    "board.col_kind": "Type",
    "board.col_actions": "Actions",
    "board.offered_to": "Ringing {id}",
    "board.counselors": "Counselors",
    "board.col_name": "Counselor",
    "board.col_state": "State",
    "board.col_since": "Time in state",
    "board.col_calls": "Calls today",
    "board.col_call": "Current call",
    "board.not_registered": "Phone not registered",
    "board.missed": "Missed a call",
    "board.emergency_calling": "Calling {target}",
    "board.emergency_joined": "{target} on the call",
    "board.today": "Today",
    "board.last_hour": "Last hour",
    "board.chart": "Waiting callers and service level today",
    "board.chart_empty": "No records today yet.",
    "board.legend_waiting": "Waiting callers",
    "board.legend_sl": "Service level (%)",
    "board.chart_label": "Chart of waiting callers and service level today, latest: {waiting} waiting, service level {sl}",
    "board.updated": "As of {time}",
    "fig.offered": "Offered",
    "fig.answered": "Answered",
    "fig.abandoned": "Abandoned",
    "fig.abandon_rate": "Abandon rate",
    "fig.service_level": "Service level (within {s} s)",
    "fig.asa_s": "Average speed of answer",
    "fig.aht_s": "Average handling time",
    "fig.callbacks_pending": "Callbacks pending",
    "act.pause": "Pause",
    "act.resume": "Resume",
    "act.priority": "Mark high risk",
    "act.cancel_callback": "Cancel callback",
    "act.listen": "Listen",
    "ask.pause_title": "Pause counselor {name}",
    "ask.pause_label": "Reason for the break",
    "ask.priority": "Mark caller {number} as high risk and move them to the front?",
    "ask.cancel_callback": "Cancel the callback to {number}? This cannot be undone.",
    "ask.cancel_callback_ok": "Cancel callback",
    "ask.supervisor_title": "Supervisor extension",
    "ask.supervisor_label": "Your SIP id for listening (asked only once)",
    "done.pause": "The counselor is on break.",
    "done.resume": "The counselor is available again.",
    "done.priority": "The caller is marked high risk.",
    "done.cancel_callback": "The callback is cancelled.",
    "done.listen": "Calling your phone {id}. Answer it to listen.",
    "alert.high_risk_waiting": "High-risk caller waiting in {queue} since {since}",
    "alert.long_wait": "Long wait in {queue} since {since}",
    "alert.no_counselor": "No counselor can take calls: every counselor is logged out.",
    "alert.no_available": "No counselor can take calls: callers are waiting and every logged-in counselor is on break.",
    "alert.missed_pause": "Counselor {counselor} missed a call and was paused at {since}",
    "alert.emergency_failed": "{target} could not be reached on counselor {counselor}'s call at {since} ({reason})",
    "emergency.reason.timeout": "no answer",
    "emergency.reason.busy": "busy",
    "emergency.reason.rejected": "rejected",
    "emergency.reason.rejected_status": "rejected, SIP {status}",
    "emergency.reason.unreachable": "unreachable",
    "emergency.reason.no_route": "no outbound line is set up",
    "emergency.reason.not_joined": "answered but could not be added to the call",
    "alert.unknown": "Alert: {kind}",

    "console.title": "Counselor console",
    "console.state": "My state",
    "console.state_of": "{name} ({id})",
    "console.since": "for {time}",
    "console.login": "Log in",
    "console.resume": "End break",
    "console.break": "Break",
    "console.break_reason": "Reason for the break",
    "console.break_placeholder": "e.g. lunch, training",
    "console.logout": "Log out",
    "console.end_wrapup": "End wrap-up",
    "console.wrapup_until": "Wrap-up ends at {time}",
    "console.not_registered": "Your phone is not registered. Start the softphone.",
    "console.pick_counselor": "Add ?counselor=ID to the address to choose a counselor.",
    "console.pop": "Caller",
    "console.no_call": "No call right now.",
    "console.phase.offered": "Incoming call",
    "console.phase.on_call": "On a call",
    "console.phase.wrap_up": "Wrapping up",
    "console.queue": "Queue",
    "console.digits": "Menu path",
    "console.language": "Language",
    "console.caller_type": "Caller",
    "console.wait": "Waited",
    "console.kind": "Type",
    "console.history": "Earlier calls",
    "console.no_history": "No earlier calls.",
    "console.col_date": "Date",
    "console.col_outcome": "Outcome",
    "console.col_risk": "Risk",
    "console.col_summary": "Summary",
    "console.col_followup": "Follow-up",
    "console.open_followups": "Open follow-ups",
    "console.emergency": "Call emergency services",
    "console.emergency_target": "Service to call",
    "console.target.119": "119 (fire and ambulance)",
    "console.target.112": "112 (police)",
    "console.target.109": "109 (suicide prevention)",
    "console.ask_emergency": "Service: {target}. Call it into this call now?",
    "console.done_emergency": "Calling {target}.",
    "wrapup.title": "Wrap-up",
    "wrapup.reporter": "Who called",
    "wrapup.isolation": "Social isolation checklist (tick what applies)",
    "wrapup.q1": "No contact with family or friends in the past week",
    "wrapup.q2": "Nobody to ask for help when in trouble",
    "wrapup.q3": "Rarely leaves home",
    "wrapup.q4": "Often skips meals",
    "wrapup.q5": "Said loneliness makes daily life hard",
    "wrapup.score": "Score: {score} / 5",
    "wrapup.risk": "Risk",
    "wrapup.notes": "Notes",
    "wrapup.followup": "Follow-up",
    "wrapup.due_date": "Due date",
    "wrapup.district": "District",
    "wrapup.district_placeholder": "e.g. Mapo-gu",
    "wrapup.submit": "Save wrap-up",
    "wrapup.saved": "The wrap-up is saved.",
    "wrapup.already_saved": "The wrap-up of this call is saved.",
    "wrapup.choose": "Choose",
    "wrapup.missing": "Fill in: {fields}",

    "followups.title": "Follow-ups",
    "followups.filters": "Filters",
    "followups.kind": "Kind",
    "followups.district": "District",
    "followups.risk": "Risk",
    "followups.state": "State",
    "followups.all": "All",
    "followups.export": "Export CSV (numbers masked)",
    "followups.export_numbers": "Export CSV with numbers",
    "followups.count": "{count} tasks",
    "followups.refresh": "Refresh",
    "followups.created": "Created {time}",
    "followups.empty": "No follow-ups match.",
    "followups.col_risk": "Risk",
    "followups.col_kind": "Kind",
    "followups.col_district": "District",
    "followups.col_due": "Due",
    "followups.col_owner": "Owner",
    "followups.col_number": "Number",
    "followups.col_state": "State",
    "followups.col_notes": "Notes",
    "followups.col_actions": "Actions",
    "followups.unassigned": "Unassigned",
    "followups.overdue": "Overdue",
    "act.assign": "Assign",
    "act.note": "Add note",
    "act.close": "Close",
    "act.reveal": "Show number",
    "act.hide": "Hide",
    "ask.assign_title": "Assign owner",
    "ask.assign_label": "Owner's login name",
    "ask.note_title": "Add a note",
    "ask.note_label": "Note",
    "ask.close_title": "Close follow-up",
    "ask.close_label": "Outcome (at most 200 characters)",
    "done.assign": "The owner is assigned.",
    "done.note": "The note is added.",
    "done.close": "The follow-up is closed.",
  },
};

// SVG_NS is the SVG namespace, taken from an element that the HTML parser
// creates, so that no asset spells out a URL.
const SVG_NS = (() => {
  const holder = document.createElement("div");
  holder.innerHTML = "<svg></svg>";
  return holder.firstChild.namespaceURI;
})();

const langListeners = [];
let currentLang = readStoredLang();
let session = null;

function readStoredLang() {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    return stored in dictionaries ? stored : DEFAULT_LANG;
  } catch {
    return DEFAULT_LANG;
  }
}

// Returns the text of key in the current language with {name} placeholders
// filled from vars. A missing key shows as the key itself.
export function t(key, vars = {}) {
  const text = dictionaries[currentLang][key] ?? dictionaries[DEFAULT_LANG][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// Returns the translation of a stored value (prefix.value), or the value
// itself when no dictionary has it, so new server values still show.
export function tv(prefix, value) {
  if (value === undefined || value === null || value === "") return "";
  const key = `${prefix}.${value}`;
  return key in dictionaries[currentLang] ? t(key) : String(value);
}

// Returns the text of why an emergency call failed: the reason of an
// emergency_failed event, with the gateway's SIP status when it sent one.
export function emergencyReason(reason, sipStatus) {
  if (reason === "rejected" && sipStatus) return t("emergency.reason.rejected_status", { status: sipStatus });
  return tv("emergency.reason", reason);
}

// Adds a page's own strings to the dictionaries: entries is
// {ko: {key: text}, en: {key: text}}. Call it before the page's first t().
export function addStrings(entries) {
  for (const [code, strings] of Object.entries(entries)) {
    if (code in dictionaries) Object.assign(dictionaries[code], strings);
  }
}

export function lang() {
  return currentLang;
}

// Sets the language, stores it in localStorage, updates <html lang> and the
// static texts, and calls every onLangChange listener to redraw.
export function setLang(next) {
  if (!(next in dictionaries)) return;
  currentLang = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    // A browser without storage keeps the choice for this page only.
  }
  applyI18n(document);
  for (const listener of langListeners) listener(next);
}

export function onLangChange(listener) {
  langListeners.push(listener);
}

// Fills the static texts of root: data-i18n (text), data-i18n-placeholder,
// data-i18n-aria (aria-label) and data-i18n-title.
export function applyI18n(root) {
  document.documentElement.lang = currentLang;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const button of document.querySelectorAll(".hl-lang button[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === currentLang));
  }
}

// Creates an element: attrs sets attributes (class, data-*, aria-*), on*
// functions become event listeners, and svg: true makes an SVG element.
// children are nodes or strings.
export function el(tag, attrs = {}, ...children) {
  const node = attrs.svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ApiError is a failed request. status is the HTTP status (0 for a
// network failure), summary a short explanation of the status in the page's
// language, detail the server's {"error"} text or a generic one, and
// message the summary followed by the detail.
export class ApiError extends Error {
  constructor(status, detail) {
    const summary = statusSummary(status);
    super(summary ? `${summary}: ${detail}` : detail);
    this.status = status;
    this.summary = summary;
    this.detail = detail;
  }
}

// Returns the short explanation of an HTTP error status, or "" for a
// status without one.
function statusSummary(status) {
  if (status >= 500) return t("error.5xx");
  if ([400, 403, 404, 409, 429].includes(status)) return t(`error.${status}`);
  return "";
}

// Sends a JSON request with the session cookie and, for every method but
// GET, the X-CSRF-Token header. It resolves to the decoded JSON body and
// rejects with ApiError. A 401 means the session ended, so the browser
// goes to the login page at once.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && session?.csrf_token) headers["X-CSRF-Token"] = session.csrf_token;
  if (body !== undefined) headers["Content-Type"] = "application/json";

  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, t("error.network"));
  }

  if (response.status === 401) {
    loginEnded();
    throw new ApiError(401, t("error.status", { status: 401 }));
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error || t("error.status", { status: response.status }));
  }
  return data;
}

// Set once the page is on its way to the login page, so that later
// failures neither navigate again nor show notices.
let leaving = false;

// Opens the login page with this page as next and ended=1, so that the
// login page states why it opened.
function loginEnded() {
  if (leaving) return;
  leaving = true;
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}&ended=1`);
}

// Runs request and shows its error in #notice; returns the result, or
// undefined after an error. success, when set, is shown on success;
// without it a success removes an error notice.
export async function act(request, success) {
  try {
    const result = await request();
    if (success) {
      notify(success, false);
    } else {
      clearErrorNotice();
    }
    return result;
  } catch (error) {
    notify(error, true);
    return undefined;
  }
}

// The notice #notice shows: its message text, whether it is an error,
// and a serial number that lets a fade timer check that it is still shown.
let shownNotice = { text: "", isError: false, serial: 0 };

// Shows message, a string or an Error, in the page's #notice region under
// the header, with a close button. An error is red and stays until closed
// or replaced by the next message; a success note is green and fades
// after SUCCESS_NOTICE_MS. An ApiError shows its status explanation
// first and the server's text after it. The region is a live region, so
// screen readers read it.
export function notify(message, isError) {
  const notice = document.getElementById("notice");
  if (!notice || leaving) return;
  const text = message instanceof Error ? message.message : String(message);
  const serial = shownNotice.serial + 1;
  shownNotice = { text, isError, serial };

  notice.className = isError ? "hl-banner hl-error" : "hl-banner hl-ok";
  notice.setAttribute("role", isError ? "alert" : "status");
  notice.replaceChildren(noticeBody(message), noticeCloseButton(notice));
  notice.hidden = false;

  if (!isError) {
    setTimeout(() => {
      if (shownNotice.serial !== serial) return;
      notice.classList.add("hl-fading");
      setTimeout(() => {
        if (shownNotice.serial === serial) hideNotice(notice);
      }, NOTICE_FADE_MS);
    }, SUCCESS_NOTICE_MS);
  }
}

// Returns the text part of a notice: for an ApiError with a status
// explanation, the explanation in bold and the server's text after it.
function noticeBody(message) {
  if (message instanceof ApiError && message.summary) {
    return el("p", { class: "hl-notice-text" },
      el("strong", { class: "hl-notice-summary" }, message.summary), " ",
      el("span", { class: "hl-notice-detail" }, message.detail));
  }
  const text = message instanceof Error ? message.message : String(message);
  return el("p", { class: "hl-notice-text" }, text);
}

function noticeCloseButton(notice) {
  return el("button", { type: "button", class: "hl-notice-close", onclick: () => hideNotice(notice) }, t("notice.close"));
}

function hideNotice(notice) {
  notice.hidden = true;
  notice.classList.remove("hl-fading");
  notice.replaceChildren();
  shownNotice = { text: "", isError: false, serial: shownNotice.serial + 1 };
}

// Hides #notice when it still shows message, and leaves a newer message.
export function clearNotice(message) {
  const notice = document.getElementById("notice");
  const text = message instanceof Error ? message.message : String(message);
  if (notice && !notice.hidden && shownNotice.text === text) hideNotice(notice);
}

// Hides #notice when it shows an error.
function clearErrorNotice() {
  const notice = document.getElementById("notice");
  if (notice && !notice.hidden && shownNotice.isError) hideNotice(notice);
}

export function currentSession() {
  return session;
}

// Loads GET /api/v1/session; without a session the browser goes to the
// login page.
export async function loadSession() {
  session = await api("GET", "/api/v1/session");
  return session;
}

// Fills the page header: who is signed in, the navigation for the role,
// the language switch and the sign-out button.
export function initHeader(page) {
  for (const button of document.querySelectorAll(".hl-lang button[data-lang]")) {
    button.addEventListener("click", () => setLang(button.dataset.lang));
  }

  const pagesByRole = {
    counselor: ["console"],
    supervisor: ["board", "console", "followups"],
    followup: ["followups"],
    admin: ["board", "console", "followups"],
  };
  const allowed = pagesByRole[session?.role] ?? [];
  for (const link of document.querySelectorAll(".hl-nav a[data-page]")) {
    link.hidden = !allowed.includes(link.dataset.page);
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
  }

  // The tab's title names the page and the service.
  const title = document.querySelector("title[data-i18n]");
  const drawTitle = () => {
    if (title) document.title = `${t(title.dataset.i18n)} · ${t("app.name")}`;
  };
  onLangChange(drawTitle);

  const who = document.getElementById("who");
  const drawWho = () => {
    if (who && session) who.textContent = t("nav.who", { user: session.user, role: tv("role", session.role) });
  };
  drawWho();
  onLangChange(drawWho);

  const signout = document.getElementById("signout");
  signout?.addEventListener("click", async () => {
    await fetch("/logout", {
      method: "POST",
      headers: { "X-CSRF-Token": session?.csrf_token ?? "" },
      credentials: "same-origin",
    }).catch(() => null);
    leaving = true;
    location.assign("/login");
  });

  applyI18n(document);
  drawTitle();
}

// Opens an EventSource on path and calls onData with the parsed JSON of
// each event named eventName. While the connection is down #conn-status
// shows the reconnecting banner. An "unavailable" event (a store of the
// server failed) shows its error in #notice until the next snapshot, so
// that the page does not pass off old figures as current.
// After every connection error the page requests GET /api/v1/session: a 401
// means the session ended (logout elsewhere, expiry), and the login page
// opens at once. Otherwise EventSource reconnects by itself after a
// network failure (the server sends retry: 2000), and a stream that the
// browser closed for good, after an HTTP error status, is opened again
// after STREAM_REOPEN_MS.
export function openStream(path, eventName, onData) {
  const banner = document.getElementById("conn-status");
  const showBanner = (down) => {
    if (!banner) return;
    banner.hidden = !down;
    banner.textContent = t("conn.lost");
  };

  // The text of the store failure shown in #notice, or "" when none is.
  let failure = "";
  const showFailure = (event) => {
    let message = "";
    try {
      message = JSON.parse(event.data).error ?? "";
    } catch {
      // A body that is not JSON gets the generic message below.
    }
    failure = message || t("error.status", { status: 503 });
    notify(failure, true);
  };
  const clearFailure = () => {
    if (failure) clearNotice(failure);
    failure = "";
  };

  let source;
  let checking = false;
  const connect = () => {
    source = new EventSource(path, { withCredentials: true });
    source.addEventListener("open", () => showBanner(false));
    source.addEventListener("unavailable", showFailure);
    source.addEventListener(eventName, (event) => {
      showBanner(false);
      clearFailure();
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      onData(data);
    });
    source.addEventListener("error", () => {
      if (leaving) return;
      showBanner(true);
      checkSession();
    });
  };
  // Asks whether the session still lives; api() opens the login page on
  // 401. A closed stream is opened again later.
  const checkSession = async () => {
    if (checking) return;
    checking = true;
    try {
      await api("GET", "/api/v1/session");
    } catch (error) {
      if (error.status === 401) return;
    } finally {
      checking = false;
    }
    if (source.readyState === EventSource.CLOSED) setTimeout(reopen, STREAM_REOPEN_MS);
  };
  const reopen = () => {
    if (!leaving && source.readyState === EventSource.CLOSED) connect();
  };

  onLangChange(() => {
    if (banner && !banner.hidden) banner.textContent = t("conn.lost");
  });

  // A page kept in the back-forward cache would hold its stream open and
  // use up the browser's connections to the server, so the stream ends
  // when the page is hidden and opens again when the page comes back.
  let stopped = false;
  window.addEventListener("pagehide", () => source.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && !stopped && !leaving) connect();
  });

  connect();
  return () => {
    stopped = true;
    source.close();
  };
}

// ServerClock maps the server's time to the browser's: ticking values
// (waits, time in state) are measured against the snapshot's "at", so a
// browser clock that is off does not change them.
export class ServerClock {
  constructor() {
    this.offsetMs = 0;
  }

  sync(serverTime) {
    const at = Date.parse(serverTime);
    if (!Number.isNaN(at)) this.offsetMs = Date.now() - at;
  }

  now() {
    return Date.now() - this.offsetMs;
  }

  // Returns the seconds since the RFC 3339 time iso, never negative.
  secondsSince(iso) {
    const at = Date.parse(iso);
    if (Number.isNaN(at)) return 0;
    return Math.max(0, Math.floor((this.now() - at) / 1000));
  }
}

// Formats seconds as m:ss, or h:mm:ss from one hour on.
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const ss = String(s).padStart(2, "0");
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${ss}`;
  return `${String(m).padStart(2, "0")}:${ss}`;
}

// Formats a fraction 0..1 as a whole percentage.
export function formatPercent(fraction) {
  if (fraction === undefined || fraction === null || Number.isNaN(Number(fraction))) return "–";
  return `${Math.round(Number(fraction) * 100)}%`;
}

// Formats an RFC 3339 time as local date and time (YYYY-MM-DD HH:MM).
export function formatDateTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// Formats an RFC 3339 time as local 24-hour HH:MM:SS, or HH:MM with
// seconds false. Both languages use this form, as Korean call centres do.
export function formatClock(iso, seconds = true) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  return seconds ? `${clock}:${pad(at.getSeconds())}` : clock;
}

// Updates every [data-since] element below root to the time since its
// RFC 3339 value.
export function tick(root, clock) {
  for (const node of root.querySelectorAll("[data-since]")) {
    node.textContent = formatDuration(clock.secondsSince(node.dataset.since));
  }
}

let dialog;

// Opens the page's dialog with a title, an optional text field and OK and
// Cancel, or the labels okLabel and cancelLabel. It resolves to the field's
// text (or true without a field) on OK and to null on Cancel.
function openDialog({ title, message, label, value = "", required = false, maxLength = 0, danger = false, okLabel, cancelLabel }) {
  if (!dialog) {
    dialog = el("dialog", { class: "hl-dialog", "aria-labelledby": "hl-dialog-title" });
    document.body.append(dialog);
  }

  const form = el("form", { method: "dialog", class: "hl-form" });
  const heading = el("h2", { id: "hl-dialog-title" }, title);
  const error = el("p", { class: "hl-error", role: "alert" });
  let input;
  form.append(heading);
  if (message) form.append(el("p", {}, message));
  if (label) {
    input = el("input", { type: "text", id: "hl-dialog-input", name: "value", autocomplete: "off" });
    input.value = value;
    if (maxLength > 0) input.maxLength = maxLength;
    form.append(el("div", { class: "hl-field" }, el("label", { for: "hl-dialog-input" }, label), input));
  }
  form.append(error);
  const ok = el("button", { type: "submit", class: danger ? "hl-btn hl-btn-danger" : "hl-btn", id: "hl-dialog-ok", value: "ok" }, okLabel ?? t("dialog.ok"));
  const cancel = el("button", { type: "button", class: "hl-btn hl-btn-secondary", id: "hl-dialog-cancel" }, cancelLabel ?? t("dialog.cancel"));
  form.append(el("div", { class: "hl-actions" }, ok, cancel));
  dialog.replaceChildren(form);

  return new Promise((resolve) => {
    const finish = (result) => {
      dialog.close();
      resolve(result);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", () => resolve(null), { once: true });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!input) return finish(true);
      const text = input.value.trim();
      if (required && text === "") {
        error.textContent = t("dialog.required");
        input.focus();
        return;
      }
      if (maxLength > 0 && [...text].length > maxLength) {
        error.textContent = t("dialog.too_long", { max: maxLength });
        return;
      }
      finish(text);
    });
    dialog.showModal();
    (input ?? ok).focus();
  });
}

// Asks for one line of text; resolves to the text or null.
export function askText(title, label, options = {}) {
  return openDialog({ title, label, ...options });
}

// Asks to confirm message; resolves to true or false. options.okLabel and
// options.cancelLabel name the buttons when "OK" and "Cancel" would be
// unclear, as when the action itself is a cancellation.
export async function confirmAction(title, message, options = {}) {
  return (await openDialog({ title, message, danger: true, ...options })) === true;
}
