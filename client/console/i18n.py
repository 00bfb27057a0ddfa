"""Every word the console shows, in Chinese and English: one catalog, one lookup.

`CATALOG` maps a key to its (Chinese, English) text; `{name}` fields are
filled from the call (`t("inbox_as_of", date=...)`).  Templates and pages
never hold text of their own, so a page is in one language throughout;
tests/client/console/test_i18n.py checks that every key a template or page
uses is here, in both languages.  Amounts, dates and ids are not words:
they are formatted alike in both (client/sdk/names.py).

Keys built from data (`role_` + a role, `state_` + an approval state,
`status_` + a ledger status, `kind_` + an inbox kind, `event_` + an audit
event, `action_` + an action, `arg_` + its argument) are listed in
`FAMILIES`, so the test can check each member.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")

CATALOG: dict[str, tuple[str, str]] = {
    # the frame of every page
    "console": ("应收账款凭证控制台", "Receivables console"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "nav_label": ("主菜单", "Main menu"),
    "nav_home": ("首页", "Home"),
    "nav_inbox": ("待办", "Inbox"),
    "nav_approvals": ("审批", "Approvals"),
    "nav_audit": ("审计日志", "Audit trail"),
    "nav_users": ("用户管理", "Users"),
    "language": ("语言", "Language"),
    "logout": ("退出登录", "Log out"),
    "uscc": ("统一社会信用代码", "USCC"),
    "back_home": ("返回首页", "Back to the home page"),
    # logging in
    "login_title": ("登录", "Log in"),
    "login_lead": ("请使用本机构控制台账号登录。", "Log in with your organisation's console account."),
    "user_name": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login": ("登录", "Log in"),
    "totp_title": ("动态验证码", "One-time code"),
    "totp_lead": ("请输入身份验证器应用显示的 6 位验证码。",
                  "Enter the 6-digit code your authenticator app shows."),
    "totp_enrol_lead": ("复核和管理员账号需要第二重验证。请在身份验证器应用中手动添加下面的密钥（或 otpauth 地址），然后输入它显示的验证码。",
                        "Checker and admin accounts need a second factor. Add the secret below "
                        "(or the otpauth address) to your authenticator app by hand, then enter "
                        "the code it shows."),
    "totp_secret": ("密钥", "Secret"),
    "totp_uri": ("otpauth 地址", "otpauth address"),
    "totp_code": ("验证码", "Code"),
    "totp_submit": ("验证", "Verify"),
    # the dashboard
    "home_title": ("概览", "Overview"),
    "home_org": ("本机构", "This organisation"),
    "org_name": ("名称", "Name"),
    "home_node": ("节点", "Node"),
    "node_down": ("节点暂时无法连接，稍后页面会重新读取。", "The node cannot be reached just now; pages read it again on the next visit."),
    "node_url": ("地址", "Address"),
    "node_id": ("节点标识", "Node id"),
    "node_height": ("区块高度", "Block height"),
    "node_final": ("最终确认高度", "Final height"),
    "node_date": ("账本日期", "Ledger date"),
    "home_me": ("当前用户", "Signed in"),
    "role": ("角色", "Role"),
    "home_waiting": ("待处理", "Waiting"),
    "home_inbox_count": ("待办事项 {count} 项", "{count} item(s) in the inbox"),
    "home_pending_count": ("待复核 {count} 笔", "{count} transaction(s) awaiting approval"),
    # roles
    "role_maker": ("经办", "Maker"),
    "role_checker": ("复核", "Checker"),
    "role_viewer": ("查看", "Viewer"),
    "role_admin": ("管理员", "Admin"),
    "role_help_maker": ("您可以发起交易，由另一位复核人员批准后才会签名提交。",
                        "You prepare transactions; another person, a checker, approves them "
                        "before they are signed and submitted."),
    "role_help_checker": ("您可以批准或驳回他人发起的交易；批准后控制台用本机构密钥签名并提交。",
                          "You approve or reject what others prepared; on approval the console "
                          "signs with the organisation's key and submits."),
    "role_help_viewer": ("您可以查看，但不能发起或批准交易。", "You can look, but not prepare or approve."),
    "role_help_admin": ("您可以管理账号，查看并导出审计日志。",
                        "You manage the accounts and read and export the audit trail."),
    # the approvals queue
    "approvals_title": ("审批队列", "Approvals"),
    "approvals_lead": ("经办发起的每笔交易都须由另一位复核人员批准，批准时才签名提交。",
                       "Every transaction a maker prepares is signed and submitted only when "
                       "another person, a checker, approves it."),
    "approvals_states": ("审批状态", "Approval states"),
    "approvals_none": ("这里没有交易。", "Nothing here."),
    "approvals_own": ("这是您发起的交易，须由另一位复核人员批准。",
                      "You prepared this: another checker must approve it."),
    "approve": ("批准并签名提交", "Approve, sign and submit"),
    "reject": ("驳回", "Reject"),
    "reject_reason": ("驳回理由", "Reason to reject"),
    "prepared_by": ("经办人", "Prepared by"),
    "decided_by": ("复核人", "Decided by"),
    "reason": ("理由", "Reason"),
    "tx_id": ("交易编号", "Transaction id"),
    "outcome": ("账本结果", "Ledger outcome"),
    "state_pending": ("待复核", "Pending"),
    "state_signing": ("签名中", "Signing"),
    "state_approved": ("已批准", "Approved"),
    "state_rejected": ("已驳回", "Rejected"),
    "state_refused": ("节点拒绝", "Refused by the node"),
    "action_accept": ("签收凭证", "Accept credential"),
    "action_reject": ("拒收凭证", "Reject credential"),
    "arg_receivable": ("凭证编号", "Credential id"),
    "summary_accept": ("签收 {issuer} 开立的凭证 {credential}，金额 {amount}，到期日 {maturity}",
                       "Accept credential {credential} of {amount} from {issuer}, maturing {maturity}"),
    "summary_reject": ("拒收 {issuer} 开立的凭证 {credential}，金额 {amount}，到期日 {maturity}",
                       "Reject credential {credential} of {amount} from {issuer}, maturing {maturity}"),
    "outcome_committed": ("已记入账本", "committed on the ledger"),
    "outcome_pending": ("节点已受理，尚未出块", "accepted by the node, not yet in a block"),
    # the inbox and credentials
    "inbox_title": ("待办", "Inbox"),
    "inbox_as_of": ("截至账本日期 {date}", "As of the ledger date {date}"),
    "inbox_to_accept": ("待签收的凭证", "Credentials to accept"),
    "inbox_none": ("没有待签收的凭证。", "No credential awaits acceptance."),
    "inbox_waiting": ("第 {id} 号审批（{action}，经办 {who}）等待复核",
                      "Approval #{id} ({action}, prepared by {who}) awaits a checker"),
    "inbox_maker_note": ("签收或拒收须经复核人员批准后才生效。",
                         "Accepting or rejecting takes effect once a checker approves it."),
    "inbox_only_makers": ("只有经办人员可以发起签收或拒收。", "Only makers can prepare an acceptance or a rejection."),
    "inbox_other": ("其他待办", "Other items"),
    "inbox_held": ("持有的凭证", "Credentials held"),
    "inbox_held_none": ("尚未持有凭证。", "No credential held yet."),
    "accept": ("签收", "Accept"),
    "refuse": ("拒收", "Reject"),
    "credential": ("凭证", "Credential"),
    "record_id": ("编号", "Id"),
    "issuer": ("开立方", "Issuer"),
    "first_holder": ("首位持有人", "First holder"),
    "holder": ("持有人", "Holder"),
    "matures": ("到期日", "Matures"),
    "accept_by": ("签收截止日", "Accept by"),
    "issued": ("开立日", "Issued"),
    "contract": ("合同编号", "Contract no."),
    "face": ("面额", "Face value"),
    "amount": ("金额", "Amount"),
    "status": ("状态", "Status"),
    "date": ("日期", "Date"),
    "what": ("事项", "What"),
    "counterparty": ("对方", "Counterparty"),
    "note": ("凭证份额", "Note"),
    "notes_seen": ("可见的拆分份额", "Notes you may see"),
    "status_pending": ("待签收", "Pending"),
    "status_active": ("有效", "Active"),
    "status_rejected": ("已拒收", "Rejected"),
    "status_withdrawn": ("已撤回", "Withdrawn"),
    "status_expired": ("已过期", "Expired"),
    "status_paid": ("已兑付", "Paid"),
    "status_overdue": ("逾期", "Overdue"),
    "status_financing": ("融资中", "Under financing"),
    "status_spent": ("已拆转", "Spent"),
    "status_settled": ("已清分", "Settled"),
    "status_void": ("已作废", "Void"),
    "kind_credential_to_accept": ("待签收凭证", "credential to accept"),
    "kind_financing_request": ("待报价融资申请", "financing request to price"),
    "kind_offer_to_accept": ("待接受融资报价", "financing offer to accept"),
    "kind_disbursement_to_confirm": ("待确认放款", "disbursement to confirm"),
    "kind_payment_due": ("即将到期付款", "payment falling due"),
    "kind_overdue": ("逾期", "overdue"),
    "kind_awaiting_acceptance": ("等待供应商签收", "awaiting the supplier's acceptance"),
    "kind_awaiting_offer": ("等待银行报价", "awaiting the bank's terms"),
    "kind_awaiting_disbursement": ("等待银行放款", "awaiting the bank's disbursement"),
    # the audit trail
    "audit_title": ("审计日志", "Audit trail"),
    "audit_lead": ("最近 {shown} 条记录，最新的在前；下载包含全部记录。",
                   "The latest {shown} events, newest first; the downloads hold them all."),
    "audit_csv": ("下载 CSV", "Download CSV"),
    "audit_json": ("下载 JSON", "Download JSON"),
    "time": ("时间", "Time"),
    "event": ("事件", "Event"),
    "by": ("操作人", "By"),
    "approval": ("审批", "Approval"),
    "detail": ("详情", "Detail"),
    "event_login": ("登录", "logged in"),
    "event_logout": ("退出", "logged out"),
    "event_login_failed": ("登录失败", "login failed"),
    "event_locked_out": ("账号锁定", "locked out"),
    "event_login_refused_locked": ("锁定期间尝试登录", "login while locked"),
    "event_user_added": ("新增用户", "user added"),
    "event_password_reset": ("重置密码", "password reset"),
    "event_unlocked": ("解除锁定", "unlocked"),
    "event_role_changed": ("变更角色", "role changed"),
    "event_prepared": ("经办发起", "prepared"),
    "event_approved": ("复核批准", "approved"),
    "event_rejected": ("复核驳回", "rejected"),
    "event_refused": ("节点拒绝", "refused by the node"),
    "event_exported": ("导出日志", "exported"),
    # the accounts
    "users_title": ("用户管理", "Users"),
    "users_state": ("状态", "State"),
    "users_change": ("变更", "Change"),
    "users_active": ("正常", "Active"),
    "users_totp": ("已绑定动态验证码", "TOTP enrolled"),
    "users_locked_until": ("锁定至 {time}", "Locked until {time}"),
    "users_new_role": ("新角色", "New role"),
    "users_set_role": ("变更角色", "Set role"),
    "users_new_password": ("新密码", "New password"),
    "users_reset": ("重置密码", "Reset password"),
    "users_unlock": ("解除锁定", "Unlock"),
    "users_add": ("新增用户", "Add a user"),
    "users_first_password": ("初始密码（至少 10 个字符）", "First password (10 characters or more)"),
    "users_add_button": ("新增", "Add"),
    "user_bad_name": ("用户名为 1 到 64 个字母、数字或 . _ - @。",
                      "A user name is 1 to 64 letters, digits, '.', '_', '-' or '@'."),
    "user_bad_role": ("角色须为经办、复核、查看或管理员。", "The role must be maker, checker, viewer or admin."),
    "user_short_password": ("密码至少 {length} 个字符。", "A password has at least {length} characters."),
    "user_taken": ("已有名为 {name} 的用户。", "There is already a user named {name}."),
    "user_missing": ("没有这个用户。", "There is no such user."),
    "user_last_admin": ("最后一位管理员不能变更角色（请先设置另一位管理员）。",
                        "The last admin keeps the admin role (make another admin first)."),
    # errors
    "error_title_400": ("请求有误", "Bad request"),
    "error_title_401": ("未登录", "Not logged in"),
    "error_title_403": ("不允许", "Not allowed"),
    "error_title_404": ("未找到", "Not found"),
    "error_title_405": ("不支持的操作", "Not supported"),
    "error_title_409": ("状态已变化", "Already changed"),
    "error_title_500": ("出错了", "Something went wrong"),
    "error_title_502": ("节点出错", "The node failed"),
    "error_title_503": ("节点无法连接", "The node cannot be reached"),
    "error_bad_request": ("请求内容有误。", "The request is not one this console understands."),
    "error_method": ("该地址不支持这种操作。", "This address does not take that kind of request."),
    "error_csrf": ("表单缺少有效的安全令牌（可能已过期），已拒绝。请返回页面刷新后重试。",
                   "The form did not carry a valid security token (it may have expired), so "
                   "it was refused. Go back, reload the page and try again."),
    "error_forbidden": ("您的账号不能执行此操作。", "Your account may not do this."),
    "error_role": ("您的角色不能打开此页面。", "Your role may not open this page."),
    "error_not_found": ("没有找到，或本机构无权查看。", "Not found, or not this organisation's to see."),
    "error_node": ("节点暂时无法处理请求，请稍后再试。", "The node could not answer just now; try again later."),
    "error_internal": ("控制台内部出错，已记录。", "The console failed; the failure is logged."),
    "error_login_wrong": ("用户名或密码错误。", "Wrong user name or password."),
    "error_login_locked": ("多次登录失败，账号已暂时锁定。请稍后再试或联系管理员。",
                           "Too many failed logins: the account is locked for a while. Try "
                           "later or ask an admin."),
    "error_totp_wrong": ("验证码不正确。", "That code is not right."),
    "error_not_maker": ("只有经办人员可以发起交易。", "Only makers can prepare transactions."),
    "error_not_checker": ("只有复核人员可以批准或驳回。", "Only checkers can approve or reject."),
    "error_own_approval": ("不能复核自己发起的交易。", "You cannot decide on what you prepared yourself."),
    "error_not_pending": ("这笔交易已经处理过了。", "This transaction was already decided."),
    "error_no_approval": ("没有这笔审批。", "There is no such approval."),
    "error_already_pending": ("这张凭证已有一笔交易等待复核。",
                              "A transaction on this credential already awaits approval."),
    "error_bad_action": ("无法发起这种交易。", "That transaction cannot be prepared."),
    "error_reason_needed": ("驳回须填写理由。", "A rejection needs a reason."),
}

FAMILIES: dict[str, tuple[str, ...]] = {
    "role_": ("maker", "checker", "viewer", "admin"),
    "role_help_": ("maker", "checker", "viewer", "admin"),
    "state_": ("pending", "signing", "approved", "rejected", "refused"),
    "status_": ("pending", "active", "rejected", "withdrawn", "expired", "paid", "overdue",
                "financing", "spent", "settled", "void"),
    "event_": ("login", "logout", "login_failed", "locked_out", "login_refused_locked",
               "user_added", "password_reset", "unlocked", "role_changed", "prepared",
               "approved", "rejected", "refused", "exported"),
    "action_": ("accept", "reject"),
    "summary_": ("accept", "reject"),
    "outcome_": ("committed", "pending"),
    "arg_": ("receivable",),
    "kind_": ("credential_to_accept", "financing_request", "offer_to_accept",
              "disbursement_to_confirm", "payment_due", "overdue", "awaiting_acceptance",
              "awaiting_offer", "awaiting_disbursement"),
    "error_title_": ("400", "401", "403", "404", "405", "409", "500", "502", "503"),
}


class Translator:
    """The console's words in one language: `t(key, **fields)`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._index = LANGUAGES.index(lang)

    def __call__(self, key: str, **fields: Any) -> str:
        """Return the text of `key` with `fields` filled in (the key itself if unknown)."""
        entry = CATALOG.get(key)
        if entry is None:
            return key
        text = entry[self._index]
        return text.format(**fields) if fields else text


_TRANSLATORS = {lang: Translator(lang) for lang in LANGUAGES}


def translator(lang: str) -> Translator:
    """Return the translator for `lang` ("zh" or "en"; anything else reads as English)."""
    return _TRANSLATORS.get(lang, _TRANSLATORS["en"])
