<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="zh_CN">
<context>
    <name></name>
    <message>
        <source>Voice</source>
        <comment>请扫码支付 %1 元</comment>
        <extracomment>the chime played for each kind of prompt when there is no speech engine alerts the attendant hears as well as reads engines tried first when none is named (speech-dispatcher drives espeak-ng and others on Linux)</extracomment>
        <translation>Voice</translation>
    </message>
    <message>
        <source>Voice</source>
        <comment>一路顺风</comment>
        <translation>Voice</translation>
    </message>
</context>
<context>
    <name>ActionPanel</name>
    <message>
        <source>返回</source>
        <translation>Back</translation>
    </message>
    <message>
        <source>处理中…</source>
        <translation>Working…</translation>
    </message>
    <message>
        <source>确认</source>
        <translation>Confirm</translation>
    </message>
</context>
<context>
    <name>BoothLock</name>
    <message>
        <source>锁屏</source>
        <translation>Lock</translation>
    </message>
    <message>
        <source>暂时离开：立即锁屏，车道照常工作，解锁需本人 PIN</source>
        <translation>Stepping away: lock the screen now; the lanes keep working, and your PIN unlocks</translation>
    </message>
</context>
<context>
    <name>BoothWindow</name>
    <message>
        <source>收费亭 — %1</source>
        <extracomment>alerts kept in memory for the session (the store audits them all) the person now signed in (PersonRecord) or None after a sign-out (GUI thread) who signed in (issue #5); None: nobody yet, or a booth without people (``operator`` is then used) whether the window chooses its layout from its size (the booth&apos;s window, once shown for the booth)</extracomment>
        <translation>Booth — %1</translation>
    </message>
    <message>
        <source>收费员：%1</source>
        <translation>Attendant: %1</translation>
    </message>
    <message>
        <source>English</source>
        <translation>中文</translation>
    </message>
    <message>
        <source>切换界面语言</source>
        <translation>Switch the screen language</translation>
    </message>
    <message>
        <source>知道了</source>
        <translation>Dismiss</translation>
    </message>
    <message>
        <source>查看同步</source>
        <translation>Show sync</translation>
    </message>
    <message>
        <source>无法切换语言：%1</source>
        <translation>Cannot switch the language: %1</translation>
    </message>
    <message>
        <source>主管：%1（%2）</source>
        <translation>Supervisor: %1 (%2)</translation>
    </message>
    <message>
        <source>收费员：%1（%2）</source>
        <translation>Attendant: %1 (%2)</translation>
    </message>
    <message>
        <source>未签到</source>
        <translation>Not signed in</translation>
    </message>
    <message>
        <source>系统启动失败：%1。请检查配置后重新启动。</source>
        <translation>The system failed to start: %1. Check the configuration, then start again.</translation>
    </message>
    <message>
        <source>泊链云端离线：扫码支付暂停，请收现金；恢复后自动重新发起扫码支付。</source>
        <translation>Bolink cloud offline: QR payment paused, take cash; QR payment resumes by itself when it is back.</translation>
    </message>
    <message>
        <source>%1%2 · %3：%4</source>
        <translation>%1%2 · %3: %4</translation>
    </message>
</context>
<context>
    <name>BoothWording</name>
    <message>
        <source>等待车辆</source>
        <extracomment>every code of booth.domain.phrases in words; the source text is booth&apos;s own Chinese template (a test holds them equal), so the default language reads exactly as booth writes it</extracomment>
        <translation>Waiting for a vehicle</translation>
    </message>
    <message>
        <source>计费中</source>
        <translation>Pricing the stay</translation>
    </message>
    <message>
        <source>免费放行（{rule}）</source>
        <translation>Free release ({rule})</translation>
    </message>
    <message>
        <source>请付款 {due_fen} 元</source>
        <translation>Please pay ¥{due_fen}</translation>
    </message>
    <message>
        <source>无入场记录：请核对车牌，或免费放行 / 人工抬杆</source>
        <translation>No entry record: check the plate, or use free release / manual lift</translation>
    </message>
    <message>
        <source>请扫码支付 {due_fen} 元</source>
        <translation>Scan to pay ¥{due_fen}</translation>
    </message>
    <message>
        <source>重新发起支付</source>
        <translation>Payment requested again</translation>
    </message>
    <message>
        <source>支付中…</source>
        <translation>Paying…</translation>
    </message>
    <message>
        <source>支付失败：未知原因</source>
        <translation>Payment failed: reason unknown</translation>
    </message>
    <message>
        <source>支付成功，入账中</source>
        <translation>Paid, booking the payment</translation>
    </message>
    <message>
        <source>现金 {due_fen} 元，找零 {change_fen} 元</source>
        <translation>Cash ¥{due_fen}, change ¥{change_fen}</translation>
    </message>
    <message>
        <source>部分付款已入账，重新计费</source>
        <translation>Part payment booked, pricing the rest</translation>
    </message>
    <message>
        <source>收到通道 {channel} 的付款，待人工核对</source>
        <translation>Payment came for lane {channel}: check it (retry re-prices with it counted)</translation>
    </message>
    <message>
        <source>已付款，抬杆中</source>
        <translation>Paid, opening the gate</translation>
    </message>
    <message>
        <source>付款 {trade_no} 未能结算本单（{status}），请核对</source>
        <translation>Payment {trade_no} did not settle this exit ({status}); please check</translation>
    </message>
    <message>
        <source>免费放行：{reason}</source>
        <translation>Free release: {reason}</translation>
    </message>
    <message>
        <source>人工抬杆：{reason}</source>
        <translation>Manual lift: {reason}</translation>
    </message>
    <message>
        <source>车牌已更正，重新计费</source>
        <translation>Plate corrected, pricing again</translation>
    </message>
    <message>
        <source>车辆已倒车离开</source>
        <translation>The vehicle backed away</translation>
    </message>
    <message>
        <source>已取消（{operator}）</source>
        <translation>Cancelled ({operator})</translation>
    </message>
    <message>
        <source>车辆已到 {other_lane} 车道</source>
        <translation>The vehicle went to lane {other_lane}</translation>
    </message>
    <message>
        <source>一路顺风</source>
        <translation>Have a good trip</translation>
    </message>
    <message>
        <source>支付超时：请收现金、重新发起支付或放行</source>
        <translation>Payment timed out: take cash, request payment again or release</translation>
    </message>
    <message>
        <source>核验中</source>
        <translation>Checking</translation>
    </message>
    <message>
        <source>禁止入场：{reason}</source>
        <translation>Entry refused: {reason}</translation>
    </message>
    <message>
        <source>欢迎光临</source>
        <translation>Welcome</translation>
    </message>
    <message>
        <source>泊链暂时不可用，请收现金 {due_fen} 元</source>
        <translation>Bolink unavailable for now: take ¥{due_fen} in cash</translation>
    </message>
    <message>
        <source>支付失败：请重新发起支付或收现金</source>
        <translation>Payment failed: ask for payment again or take cash</translation>
    </message>
    <message>
        <source>道闸没有抬起，请人工抬杆并检查道闸</source>
        <translation>The gate did not go up: use manual lift and check the gate</translation>
    </message>
    <message>
        <source>付款未能入账，未抬杆：请重试</source>
        <translation>The payment could not be booked; the gate stays down: try again</translation>
    </message>
    <message>
        <source>无法计费：请更正车牌、免费放行或人工抬杆</source>
        <translation>Cannot price this stay: correct the plate, or use free release or manual lift</translation>
    </message>
    <message>
        <source>未能记录，未抬杆：请重试</source>
        <translation>Not recorded; the gate stays down: try again</translation>
    </message>
    <message>
        <source>入场未能登记：请重试或人工抬杆</source>
        <translation>Entry not recorded: try again or use manual lift</translation>
    </message>
    <message>
        <source>黑名单车辆</source>
        <translation>blacklisted vehicle</translation>
    </message>
    <message>
        <source>车位已满</source>
        <translation>lot full</translation>
    </message>
    <message>
        <source>该车牌正在出口处理中：请核对车牌</source>
        <translation>This plate is being handled at an exit: check the plate</translation>
    </message>
    <message>
        <source>免费放行</source>
        <translation>Free release</translation>
    </message>
    <message>
        <source>人工抬杆</source>
        <translation>Manual lift</translation>
    </message>
    <message>
        <source>{action} needs a reason</source>
        <translation>{action} needs a reason</translation>
    </message>
    <message>
        <source>{action} needs the operator&apos;s name</source>
        <translation>{action} needs the operator&apos;s name</translation>
    </message>
    <message>
        <source>正在入账或抬杆，请稍候</source>
        <translation>Booking a payment or lifting the gate, please wait</translation>
    </message>
    <message>
        <source>正在抬杆，请稍候</source>
        <translation>Lifting the gate, please wait</translation>
    </message>
    <message>
        <source>只有计费或待付款的车辆可以更正车牌</source>
        <translation>Only a vehicle being priced or awaiting payment can have its plate corrected</translation>
    </message>
    <message>
        <source>更正车牌需要收费员</source>
        <translation>Correcting a plate needs the attendant&apos;s name</translation>
    </message>
    <message>
        <source>没有等待支付的订单，无法重新发起支付</source>
        <translation>No order awaiting payment: nothing to request again</translation>
    </message>
    <message>
        <source>没有等待支付的订单，不能收现金</source>
        <translation>No order awaiting payment: no cash to take</translation>
    </message>
    <message>
        <source>现金不足：应收 {due_fen} 元，实收 {tendered_fen} 元</source>
        <translation>Not enough cash: ¥{due_fen} due, ¥{tendered_fen} given</translation>
    </message>
    <message>
        <source>收现金需要收费员</source>
        <translation>Taking cash needs the attendant&apos;s name</translation>
    </message>
    <message>
        <source>当前没有可免费放行的车辆</source>
        <translation>No vehicle for a free release now</translation>
    </message>
    <message>
        <source>入口车道不收费</source>
        <translation>Entry lanes take no payment</translation>
    </message>
    <message>
        <source>{action}需要原因</source>
        <translation>{action} needs a reason</translation>
    </message>
    <message>
        <source>{action}需要收费员</source>
        <translation>{action} needs the attendant&apos;s name</translation>
    </message>
    <message>
        <source>{action}的备注必须是文字</source>
        <translation>The note of a {action} must be text</translation>
    </message>
    <message>
        <source>{action}的原因最多 {max} 个字（现 {length} 个）</source>
        <translation>The reason of a {action} may have at most {max} characters (it has {length})</translation>
    </message>
    <message>
        <source>{action}的备注最多 {max} 个字（现 {length} 个）</source>
        <translation>The note of a {action} may have at most {max} characters (it has {length})</translation>
    </message>
    <message>
        <source>“{reason}”不是可选的{action}原因；请从列表选择：{listed}</source>
        <translation>“{reason}” is not a listed reason for a {action}; choose one of: {listed}</translation>
    </message>
    <message>
        <source>“{reason}”{action}需要主管输入 PIN 批准</source>
        <translation>{action} for “{reason}” needs a supervisor&apos;s PIN</translation>
    </message>
    <message>
        <source>批准人须为（用户名, PIN）</source>
        <translation>The approver must be given as (username, PIN)</translation>
    </message>
    <message>
        <source>主管批准未通过（{username}）：{error}</source>
        <translation>Supervisor approval refused ({username}): {error}</translation>
    </message>
    <message>
        <source>车牌相机已恢复</source>
        <translation>Plate camera back online</translation>
    </message>
    <message>
        <source>车牌相机离线：{seconds} 秒没有心跳</source>
        <translation>Plate camera offline: no heartbeat for {seconds} s</translation>
    </message>
    <message>
        <source>车道上的车辆已变化，{action}未执行：请重新操作</source>
        <translation>The car at the lane has changed; {action} was not done: please do it again</translation>
    </message>
    <message>
        <source>{username} 不能批准自己的{action}：须由另一位主管批准</source>
        <translation>{username} cannot approve their own {action}: another supervisor must</translation>
    </message>
    <message>
        <source>白名单车辆 {plate}</source>
        <translation>Whitelisted vehicle {plate}</translation>
    </message>
    <message>
        <source>{minutes}分钟内免费</source>
        <translation>Free within {minutes} min</translation>
    </message>
    <message>
        <source>前{minutes}分钟免费</source>
        <translation>First {minutes} min free</translation>
    </message>
    <message>
        <source>月卡 {plate} 有效期{valid_from}至{valid_to}</source>
        <translation>Monthly pass {plate} valid {valid_from} to {valid_to}</translation>
    </message>
    <message>
        <source>月卡 {plate} 有效期{valid_from}至{valid_to} {note}</source>
        <translation>Monthly pass {plate} valid {valid_from} to {valid_to} {note}</translation>
    </message>
    <message>
        <source>月卡 {plate} {start}–{end} 有效期内免费（{valid_from}至{valid_to}）</source>
        <translation>Monthly pass {plate} {start}–{end} free while valid ({valid_from} to {valid_to})</translation>
    </message>
    <message>
        <source>月卡不在有效期（{valid_from}至{valid_to}）</source>
        <translation>Monthly pass not valid ({valid_from} to {valid_to})</translation>
    </message>
    <message>
        <source>第{window}个24小时 {start}–{end} 封顶（按时计{raw_fen}元）</source>
        <translation>24 hours no. {window} {start}–{end} capped (by time ¥{raw_fen})</translation>
    </message>
    <message>
        <source>当日 {start}–{end} 封顶（按时计{raw_fen}元）</source>
        <translation>Day {start}–{end} capped (by time ¥{raw_fen})</translation>
    </message>
    <message>
        <source>{where}首{minutes}分钟</source>
        <translation>{where}first {minutes} min</translation>
    </message>
    <message>
        <source>{where}{count}个{minutes}分钟×{price_fen}元</source>
        <translation>{where}{count} × {minutes} min at ¥{price_fen}</translation>
    </message>
    <message>
        <source>{where}续{count}个{minutes}分钟×{price_fen}元</source>
        <translation>{where}then {count} × {minutes} min at ¥{price_fen}</translation>
    </message>
    <message>
        <source>{where}{count}个{minutes}分钟×{price_fen}元（{raw_fen}元，每夜封顶{cap_fen}元）</source>
        <translation>{where}{count} × {minutes} min at ¥{price_fen} (¥{raw_fen}, night cap ¥{cap_fen})</translation>
    </message>
    <message>
        <source>日间 </source>
        <translation>Day: </translation>
    </message>
    <message>
        <source>夜间 </source>
        <translation>Night: </translation>
    </message>
    <message>
        <source>{start}–{end} </source>
        <translation>{start}–{end}: </translation>
    </message>
    <message>
        <source>日间 {start}–{end} </source>
        <translation>Day {start}–{end}: </translation>
    </message>
    <message>
        <source>夜间 {start}–{end} </source>
        <translation>Night {start}–{end}: </translation>
    </message>
    <message>
        <source>优惠 {amount_fen}元</source>
        <translation>Discount ¥{amount_fen}</translation>
    </message>
    <message>
        <source>优惠 {amount_fen}元（抵扣{used_fen}元）</source>
        <translation>Discount ¥{amount_fen} (¥{used_fen} used)</translation>
    </message>
    <message>
        <source>优惠 {amount_fen}元（无需抵扣）</source>
        <translation>Discount ¥{amount_fen} (not needed)</translation>
    </message>
    <message>
        <source>已付 {amount_fen}元</source>
        <translation>Paid ¥{amount_fen}</translation>
    </message>
    <message>
        <source>已付 {amount_fen}元（抵扣{used_fen}元）</source>
        <translation>Paid ¥{amount_fen} (¥{used_fen} used)</translation>
    </message>
    <message>
        <source>已付 {amount_fen}元（无需抵扣）</source>
        <translation>Paid ¥{amount_fen} (not needed)</translation>
    </message>
    <message>
        <source>往次未见出场欠费 {count}笔</source>
        <translation>Owed from {count} earlier stay(s) whose exit was not seen</translation>
    </message>
    <message>
        <source>已付抵扣欠费</source>
        <translation>Paid before, set against what is owed</translation>
    </message>
    <message>
        <source>付款后{minutes}分钟内离场，免补缴</source>
        <translation>Left within {minutes} min of paying: nothing more to pay</translation>
    </message>
    <message>
        <source>{plate} 在 {lane_id} 出场，无入场记录</source>
        <translation>{plate} leaving at {lane_id} has no entry record</translation>
    </message>
    <message>
        <source>{old} → {new}（{operator}）</source>
        <translation>{old} → {new} ({operator})</translation>
    </message>
    <message>
        <source>{plate}: {error}</source>
        <translation>{plate}: {error}</translation>
    </message>
    <message>
        <source>{plate} 在 {lane_id} 支付超时</source>
        <translation>{plate} did not pay in time at {lane_id}</translation>
    </message>
    <message>
        <source>付款 {trade_no} 已入账并标记：{flag}</source>
        <translation>Payment {trade_no} booked and flagged: {flag}</translation>
    </message>
    <message>
        <source>付款 {trade_no}（{order_id}）：{flag}</source>
        <translation>Payment {trade_no} ({order_id}): {flag}</translation>
    </message>
    <message>
        <source>{trade_no}: {status}</source>
        <translation>{trade_no}: {status}</translation>
    </message>
    <message>
        <source>付款 {trade_no} 指向通道 {channel}，车辆 {plate} 在 {lane_id}：已入账未抬杆</source>
        <translation>Payment {trade_no} names lane {channel} but {plate} is at {lane_id}: booked, gate kept down</translation>
    </message>
    <message>
        <source>{trade_no}: {status} {flag}</source>
        <translation>{trade_no}: {status} {flag}</translation>
    </message>
    <message>
        <source>{lane_id} 道闸未按指令动作：请检查道闸，需要时人工抬杆</source>
        <translation>{lane_id}: the gate did not do as commanded: check it, use manual lift if needed</translation>
    </message>
    <message>
        <source>{lane_id} 数据未能写入，未抬杆：请重试；反复出现请联系维护人员</source>
        <translation>{lane_id}: a record could not be written and the gate stays down: try again; call maintenance if it keeps happening</translation>
    </message>
    <message>
        <source>{plate} 到达，但本车道仍在处理 {other}</source>
        <translation>{plate} arrived while this lane is still handling {other}</translation>
    </message>
    <message>
        <source>{plate} 到达，但本车道仍在处理上一辆车</source>
        <translation>{plate} arrived while this lane is still handling the vehicle before</translation>
    </message>
    <message>
        <source>{plate}: {reason}</source>
        <translation>{plate}: {reason}</translation>
    </message>
    <message>
        <source>exit lane {lane_id} got an entry decision</source>
        <translation>exit lane {lane_id} got an entry decision</translation>
    </message>
    <message>
        <source>{text}: {error}</source>
        <translation>{text}: {error}</translation>
    </message>
    <message>
        <source>无牌车，请人工处理（{source}）</source>
        <translation>Vehicle without a plate: please handle it by hand ({source})</translation>
    </message>
    <message>
        <source>车牌 {plate} 置信度 {confidence}%，请核对；可能是：{plates}</source>
        <translation>Plate {plate} read with {confidence}% confidence; please check. Could be: {plates}</translation>
    </message>
    <message>
        <source>车牌 {plate} 置信度 {confidence}%，请核对；可能是：无相近的在场车辆</source>
        <translation>Plate {plate} read with {confidence}% confidence; please check. No similar plate in the lot</translation>
    </message>
    <message>
        <source>{plate} 再次入场，上次停车未见出场：{stay}，欠费 {owed_fen} 元记为往次欠费</source>
        <translation>{plate} entered again; its last stay&apos;s exit was not seen: {stay}. {owed_fen} yuan owed is kept for its next exit</translation>
    </message>
    <message>
        <source>{plate} 再次入场，上次停车未见出场：{stay}，无法计费，请核对</source>
        <translation>{plate} entered again; its last stay&apos;s exit was not seen: {stay}. It could not be priced: please check</translation>
    </message>
    <message>
        <source>{lane_id} 摄像机时间与本机相差 {offset_s} 秒，识别未被采用：请校准摄像机时钟（或为补发的旧记录）</source>
        <translation>{lane_id}: the camera&apos;s time is {offset_s} s from the booth&apos;s; its reads are not used: set the camera&apos;s clock (or it re-sent old reads)</translation>
    </message>
    <message>
        <source>{plate} 在 {lane_id} 等待付款，泊链仍无法给出付款码：车道持续重试，请收现金或检查网络</source>
        <translation>{plate} waits to pay at {lane_id} and Bolink still gives no payment code: the lane keeps trying; take cash or check the network</translation>
    </message>
    <message>
        <source>{plate} 重启前已在 {lane_id} 付款但未抬杆：车辆再次到达该车道时自动抬杆，请核对</source>
        <translation>{plate} paid at {lane_id} before a restart but its gate did not open: it opens when the car is read there again; please check</translation>
    </message>
    <message>
        <source>{plate} 重启前已在 {lane_id} 放行但未抬杆：车辆再次到达时请重新处理</source>
        <translation>{plate} was released at {lane_id} before a restart but its gate did not open: decide again when the car is back</translation>
    </message>
    <message>
        <source>系统时钟被调整 {seconds} 秒：车道计时按实际经过的时间继续</source>
        <translation>The system clock was set by {seconds} s: lane timers go on by the time actually elapsed</translation>
    </message>
    <message>
        <source>{plate} 在 {lane_id} 出场，另收往次欠费 {owed_fen} 元</source>
        <translation>{plate} at {lane_id} also owes {owed_fen} yuan from an earlier stay</translation>
    </message>
    <message>
        <source>本班（{attendant}）{action}已 {count} 次，超过上限 {limit} 次；最近一次：{operator}，{reason}</source>
        <translation>This shift ({attendant}): {action} {count} times, over the limit of {limit}; last: {operator}, {reason}</translation>
    </message>
    <message>
        <source>今日（无开班）{action}已 {count} 次，超过上限 {limit} 次；最近一次：{operator}，{reason}</source>
        <translation>Today (no shift open): {action} {count} times, over the limit of {limit}; last: {operator}, {reason}</translation>
    </message>
    <message>
        <source>支付宝/天猫同步未能启动：{error}</source>
        <translation>Alipay/Tmall sync could not start: {error}</translation>
    </message>
    <message>
        <source>、</source>
        <translation>, </translation>
    </message>
</context>
<context>
    <name>CashCount</name>
    <message>
        <source>%1 的数量「%2」不正确：请输入 0 至 %3 的整数</source>
        <translation>The count &quot;%2&quot; for %1 is wrong: enter a whole number from 0 to %3</translation>
    </message>
    <message>
        <source>无效</source>
        <translation>invalid</translation>
    </message>
</context>
<context>
    <name>CashPanel</name>
    <message>
        <source>收现金</source>
        <translation>Take cash</translation>
    </message>
    <message>
        <source>实收金额（元）</source>
        <translation>Amount received (yuan)</translation>
    </message>
    <message>
        <source>确认收款</source>
        <translation>Confirm payment</translation>
    </message>
    <message>
        <source>应收 %1</source>
        <translation>Due %1</translation>
    </message>
    <message>
        <source>没有待付款订单</source>
        <translation>No order awaiting payment</translation>
    </message>
    <message>
        <source>找零 %1</source>
        <translation>Change %1</translation>
    </message>
    <message>
        <source>还差 %1</source>
        <translation>Still short %1</translation>
    </message>
    <message>
        <source>没有待付款订单，不能收现金</source>
        <translation>No order awaiting payment: cash cannot be taken</translation>
    </message>
    <message>
        <source>请输入金额（元），最多两位小数，例如 20 或 12.50</source>
        <translation>Enter an amount in yuan, at most two decimals, e.g. 20 or 12.50</translation>
    </message>
    <message>
        <source>实收不足：应收 %1，实收 %2</source>
        <translation>Not enough: due %1, received %2</translation>
    </message>
</context>
<context>
    <name>CloudBox</name>
    <message>
        <source>重试失败项</source>
        <translation>Retry failed items</translation>
    </message>
    <message>
        <source>待发送</source>
        <translation>Waiting to send</translation>
    </message>
    <message>
        <source>最早一条已等</source>
        <translation>Oldest has waited</translation>
    </message>
    <message>
        <source>熔断器</source>
        <translation>Circuit breaker</translation>
    </message>
    <message>
        <source>暂停原因</source>
        <translation>Paused because</translation>
    </message>
    <message>
        <source>最近错误</source>
        <translation>Last error</translation>
    </message>
    <message>
        <source>本次运行已发送</source>
        <translation>Sent since start</translation>
    </message>
    <message>
        <source>%1 条</source>
        <extracomment>value -&gt; its caption: a row with nothing to say is hidden, so a healthy cloud takes little room</extracomment>
        <translation>%1 rows</translation>
    </message>
    <message>
        <source>失败项 %1 条（需排除原因后重试）</source>
        <translation>%1 failed items (fix the cause, then retry)</translation>
    </message>
    <message>
        <source>失败项：无</source>
        <translation>Failed items: none</translation>
    </message>
    <message>
        <source>#%1 %2 · 已尝试%3次 · %4</source>
        <translation>#%1 %2 · %3 attempts · %4</translation>
    </message>
    <message>
        <source>    原因：%1</source>
        <translation>    Reason: %1</translation>
    </message>
    <message>
        <source>（未说明）</source>
        <translation>(not given)</translation>
    </message>
    <message>
        <source>……另有 %1 条未列出</source>
        <translation>… and %1 more not listed</translation>
    </message>
    <message>
        <source>处理中…</source>
        <translation>Working…</translation>
    </message>
</context>
<context>
    <name>CommandFailure</name>
    <message>
        <source>报表无法生成：%1</source>
        <extracomment>refusals an attendant can cause (each with its words below); anything else failing is a bug and is logged with its traceback. StaffError covers AuthError (a refused PIN).</extracomment>
        <translation>Report not built: %1</translation>
    </message>
    <message>
        <source>车牌无效：%1</source>
        <translation>Invalid plate: %1</translation>
    </message>
    <message>
        <source>金额无效：%1</source>
        <translation>Invalid amount: %1</translation>
    </message>
    <message>
        <source>系统无法执行：%1</source>
        <translation>The system cannot do this: %1</translation>
    </message>
    <message>
        <source>操作被取消（系统正在停止）</source>
        <translation>Cancelled (the system is stopping)</translation>
    </message>
    <message>
        <source>操作失败：%1</source>
        <translation>Failed: %1</translation>
    </message>
</context>
<context>
    <name>LaneFiguresView</name>
    <message>
        <source>通道数据</source>
        <translation>Lane figures</translation>
    </message>
    <message>
        <source>近一小时</source>
        <translation>Last hour</translation>
    </message>
    <message>
        <source>近一天</source>
        <translation>Last day</translation>
    </message>
    <message>
        <source>近一周</source>
        <translation>Last week</translation>
    </message>
    <message>
        <source>通道</source>
        <translation>Lane</translation>
    </message>
    <message>
        <source>出场车辆</source>
        <translation>Cars
out</translation>
    </message>
    <message>
        <source>每小时
车辆</source>
        <translation>Cars
per hour</translation>
    </message>
    <message>
        <source>付款→抬杆
毫秒 p50/p99</source>
        <translation>Pay →
gate
ms p50/p99</translation>
    </message>
    <message>
        <source>识别→报价
毫秒 p50/p99</source>
        <translation>Camera →
quote
ms p50/p99</translation>
    </message>
    <message>
        <source>泊链往返
毫秒 p50/p99</source>
        <translation>Bolink
trip
ms p50/p99</translation>
    </message>
    <message>
        <source>道闸
故障</source>
        <translation>Gate
faults</translation>
    </message>
    <message>
        <source>人工
抬杆</source>
        <translation>Manual
lifts</translation>
    </message>
    <message>
        <source>刷新</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <source>时段：%1（p50 为中位数，p99 为最慢的百分之一）</source>
        <translation>Window: %1 (p50 is the median, p99 the slowest one in a hundred)</translation>
    </message>
</context>
<context>
    <name>LanePanel</name>
    <message>
        <source>正在启动…</source>
        <extracomment>ticket -&gt; the exception command&apos;s future, kept to tell an ApprovalError&apos;s code on failure</extracomment>
        <translation>Starting…</translation>
    </message>
    <message>
        <source>请用手机扫码支付</source>
        <extracomment>the lane&apos;s photo is a camera snapshot in a local file; anything larger than this is refused, not decoded</extracomment>
        <translation>Scan to pay</translation>
    </message>
    <message>
        <source>应收金额</source>
        <translation>Amount due</translation>
    </message>
    <message>
        <source>入场时间</source>
        <translation>Entry time</translation>
    </message>
    <message>
        <source>出场时间</source>
        <translation>Exit time</translation>
    </message>
    <message>
        <source>停车时长</source>
        <translation>Parked for</translation>
    </message>
    <message>
        <source>免费放行</source>
        <translation>Free release</translation>
    </message>
    <message>
        <source>确认免费放行</source>
        <translation>Confirm free release</translation>
    </message>
    <message>
        <source>人工抬杆</source>
        <translation>Manual lift</translation>
    </message>
    <message>
        <source>确认抬杆</source>
        <translation>Confirm lift</translation>
    </message>
    <message>
        <source>取消出场</source>
        <translation>Cancel exit</translation>
    </message>
    <message>
        <source>取消这辆车的本次出场？车辆仍在道闸前，可重新识别或更正车牌。</source>
        <translation>Cancel this vehicle&apos;s exit? The vehicle is still at the gate; its plate can be read again or corrected.</translation>
    </message>
    <message>
        <source>确认取消</source>
        <translation>Confirm cancel</translation>
    </message>
    <message>
        <source>收现金</source>
        <translation>Take cash</translation>
    </message>
    <message>
        <source>更正车牌</source>
        <translation>Correct plate</translation>
    </message>
    <message>
        <source>重新支付</source>
        <translation>Retry payment</translation>
    </message>
    <message>
        <source>已锁屏：收费员操作暂停</source>
        <translation>Locked: attendant actions paused</translation>
    </message>
    <message>
        <source>无车辆</source>
        <translation>No vehicle</translation>
    </message>
    <message>
        <source>已付</source>
        <translation>Paid</translation>
    </message>
    <message>
        <source>找零 %1</source>
        <translation>Change %1</translation>
    </message>
    <message>
        <source>现金付款 %1</source>
        <translation>Cash payment %1</translation>
    </message>
    <message>
        <source>暂不能扫码
请付现金 %1</source>
        <translation>No QR payment now
Pay %1 in cash</translation>
    </message>
    <message>
        <source>正在获取付款码…</source>
        <translation>Getting the payment code…</translation>
    </message>
    <message>
        <source>无车辆图像</source>
        <translation>No vehicle photo</translation>
    </message>
    <message>
        <source>车辆图像无法读取</source>
        <translation>The vehicle photo cannot be read</translation>
    </message>
    <message>
        <source>车辆已变化，「%1」已关闭</source>
        <translation>The vehicle changed: &quot;%1&quot; was closed</translation>
    </message>
    <message>
        <source>车道状态已变为「%1」，「%2」已关闭</source>
        <translation>The lane is now &quot;%1&quot;: &quot;%2&quot; was closed</translation>
    </message>
    <message>
        <source>已重新发起支付</source>
        <translation>Payment requested again</translation>
    </message>
    <message>
        <source>已收现金 %1</source>
        <translation>Cash taken %1</translation>
    </message>
    <message>
        <source>车牌已更正为 %1</source>
        <translation>Plate corrected to %1</translation>
    </message>
    <message>
        <source>已免费放行：%1</source>
        <translation>Free release done: %1</translation>
    </message>
    <message>
        <source>已人工抬杆：%1</source>
        <translation>Manual lift done: %1</translation>
    </message>
    <message>
        <source>已取消本次出场</source>
        <translation>Exit cancelled</translation>
    </message>
    <message>
        <source>该原因需要主管输入用户名和 PIN 批准</source>
        <translation>This reason needs a supervisor to approve with user name and PIN</translation>
    </message>
    <message>
        <source>主管批准未通过：%1</source>
        <translation>Supervisor approval failed: %1</translation>
    </message>
</context>
<context>
    <name>LaneWording</name>
    <message>
        <source>等待车辆</source>
        <translation>Waiting for a vehicle</translation>
    </message>
    <message>
        <source>计费中</source>
        <translation>Pricing</translation>
    </message>
    <message>
        <source>无入场记录</source>
        <extracomment>alert kinds the engine raises, in words for the attendant (unknown kinds are shown as they are)</extracomment>
        <translation>No entry record</translation>
    </message>
    <message>
        <source>待付款</source>
        <translation>Awaiting payment</translation>
    </message>
    <message>
        <source>支付失败</source>
        <translation>Payment failed</translation>
    </message>
    <message>
        <source>支付超时</source>
        <translation>Payment timed out</translation>
    </message>
    <message>
        <source>已付款 · 入账中</source>
        <translation>Paid · booking</translation>
    </message>
    <message>
        <source>抬杆中</source>
        <translation>Lifting</translation>
    </message>
    <message>
        <source>道闸已开</source>
        <translation>Gate open</translation>
    </message>
    <message>
        <source>道闸故障</source>
        <translation>Gate fault</translation>
    </message>
    <message>
        <source>禁止入场</source>
        <translation>Entry refused</translation>
    </message>
    <message>
        <source>道闸：关闭</source>
        <translation>Gate: closed</translation>
    </message>
    <message>
        <source>道闸：抬杆中</source>
        <translation>Gate: lifting</translation>
    </message>
    <message>
        <source>道闸：已开</source>
        <translation>Gate: open</translation>
    </message>
    <message>
        <source>道闸：故障</source>
        <translation>Gate: fault</translation>
    </message>
    <message>
        <source>车牌已更正</source>
        <translation>Plate corrected</translation>
    </message>
    <message>
        <source>车牌无法识别</source>
        <translation>Plate unreadable</translation>
    </message>
    <message>
        <source>付款需核对</source>
        <translation>Payment to check</translation>
    </message>
    <message>
        <source>付款未能结算</source>
        <translation>Payment did not settle</translation>
    </message>
    <message>
        <source>车道忙</source>
        <translation>Lane busy</translation>
    </message>
    <message>
        <source>数据记录失败</source>
        <translation>Recording failed</translation>
    </message>
    <message>
        <source>无牌车</source>
        <translation>No plate</translation>
    </message>
    <message>
        <source>车牌识别存疑</source>
        <translation>Doubtful plate read</translation>
    </message>
    <message>
        <source>上次未见出场</source>
        <translation>Last stay without exit</translation>
    </message>
    <message>
        <source>特殊放行超过上限</source>
        <translation>Exceptions over the limit</translation>
    </message>
    <message>
        <source>车牌相机已恢复</source>
        <translation>Plate camera back</translation>
    </message>
    <message>
        <source>车牌相机离线</source>
        <translation>Plate camera offline</translation>
    </message>
    <message>
        <source>系统异常</source>
        <translation>System error</translation>
    </message>
    <message>
        <source>付款通道不符</source>
        <translation>Payment for another lane</translation>
    </message>
    <message>
        <source>另收往次欠费</source>
        <translation>Arrears asked</translation>
    </message>
    <message>
        <source>相机时间不准</source>
        <translation>Camera clock wrong</translation>
    </message>
    <message>
        <source>付款码无法获取</source>
        <translation>No payment code</translation>
    </message>
    <message>
        <source>已付款未出场</source>
        <translation>Paid, not yet out</translation>
    </message>
    <message>
        <source>系统时钟被调整</source>
        <translation>System clock set</translation>
    </message>
    <message>
        <source>配置存在风险</source>
        <translation>Unsafe setting</translation>
    </message>
    <message>
        <source>泊链消息签名不符</source>
        <translation>Bolink sign mismatch</translation>
    </message>
    <message>
        <source>支付宝/天猫上报待重建</source>
        <translation>Alipay/Tmall report to rebuild</translation>
    </message>
    <message>
        <source>支付宝同步失败</source>
        <translation>Alipay sync failed</translation>
    </message>
    <message>
        <source>天猫同步失败</source>
        <translation>Tmall sync failed</translation>
    </message>
    <message>
        <source>泊链上传失败</source>
        <translation>Bolink upload failed</translation>
    </message>
    <message>
        <source>支付宝应答无法验证</source>
        <translation>Alipay answers cannot be verified</translation>
    </message>
    <message>
        <source>天猫应答无法验证</source>
        <translation>Tmall answers cannot be verified</translation>
    </message>
    <message>
        <source>停车场未在支付宝登记</source>
        <translation>The lot is not registered with Alipay</translation>
    </message>
    <message>
        <source>云端同步未能启动</source>
        <translation>Cloud sync did not start</translation>
    </message>
    <message>
        <source>数据库备份失败</source>
        <translation>Database backup failed</translation>
    </message>
    <message>
        <source>历史数据归档失败</source>
        <translation>Archiving old months failed</translation>
    </message>
    <message>
        <source>泊链：连接中</source>
        <translation>Bolink: connecting</translation>
    </message>
    <message>
        <source>泊链：在线</source>
        <translation>Bolink: online</translation>
    </message>
    <message>
        <source>泊链：离线</source>
        <translation>Bolink: offline</translation>
    </message>
    <message>
        <source>%1天%2小时%3分钟</source>
        <translation>%1 d %2 h %3 min</translation>
    </message>
    <message>
        <source>%1小时%2分钟</source>
        <translation>%1 h %2 min</translation>
    </message>
    <message>
        <source>%1分钟</source>
        <translation>%1 min</translation>
    </message>
</context>
<context>
    <name>LockScreen</name>
    <message>
        <source>PIN 不正确</source>
        <extracomment>what an attendant reads for each refusal code of booth.staff.AuthError (the message itself is English)</extracomment>
        <translation>Wrong PIN</translation>
    </message>
    <message>
        <source>没有这个用户</source>
        <translation>No such user</translation>
    </message>
    <message>
        <source>该用户已停用</source>
        <translation>This user is disabled</translation>
    </message>
    <message>
        <source>输错次数过多，已暂时锁定</source>
        <translation>Too many wrong PINs: locked for now</translation>
    </message>
    <message>
        <source>需要主管的 PIN</source>
        <translation>A supervisor&apos;s PIN is needed</translation>
    </message>
    <message>
        <source>PIN 格式不正确</source>
        <translation>The PIN is not in the right form</translation>
    </message>
    <message>
        <source>（还可再试 %1 次）</source>
        <translation> (%1 tries left)</translation>
    </message>
    <message>
        <source>主管用户名</source>
        <translation>Supervisor user name</translation>
    </message>
    <message>
        <source>主管退出程序</source>
        <translation>Supervisor: quit</translation>
    </message>
    <message>
        <source>解锁</source>
        <extracomment>(username, pin, required role or None) -&gt; a future that fails with an exception carrying ``.message`` events that count as someone at the booth (a touch arrives as a mouse press too)</extracomment>
        <translation>Unlock</translation>
    </message>
    <message>
        <source>English</source>
        <translation>中文</translation>
    </message>
    <message>
        <source>取消</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>已锁屏</source>
        <translation>Screen locked</translation>
    </message>
    <message>
        <source>收费员 %1 暂时离开：车道照常工作，司机可照常付款。</source>
        <translation>Attendant %1 is away. The lanes keep working: drivers can still pay.</translation>
    </message>
    <message>
        <source>收费员 %1 请输入 PIN 解锁。</source>
        <translation>Attendant %1: enter your PIN to unlock.</translation>
    </message>
    <message>
        <source>返回</source>
        <translation>Back</translation>
    </message>
    <message>
        <source>退出收费程序</source>
        <translation>Quit the booth</translation>
    </message>
    <message>
        <source>需要主管输入用户名和 PIN。</source>
        <translation>A supervisor must enter a user name and PIN.</translation>
    </message>
    <message>
        <source>请先选择或输入主管用户名</source>
        <translation>First choose or type the supervisor user name</translation>
    </message>
    <message>
        <source>正在核对…</source>
        <translation>Checking…</translation>
    </message>
</context>
<context>
    <name>MoneyPad</name>
    <message>
        <source>正好</source>
        <extracomment>what a money field may hold while being typed: up to 6 digits of yuan and 2 of fen plate letters never include I and O (they read as 1 and 0) last characters of special plates (coach, police, trailer, Hong Kong, Macau, consulate). 应急 (emergency) is left out on purpose: the plate parser refuses it (such cars are handled by hand, not by plate). first characters that are not provinces: 使 (embassy). Armed police plates start with the letters WJ. how many recently typed provinces come right after the lot&apos;s own</extracomment>
        <translation>Exact</translation>
    </message>
    <message>
        <source>清除</source>
        <translation>Clear</translation>
    </message>
</context>
<context>
    <name>PinPad</name>
    <message>
        <source>清除</source>
        <extracomment>more digits than any PIN the staff module accepts: a longer entry is a mistake, refused key by key</extracomment>
        <translation>Clear</translation>
    </message>
    <message>
        <source>确定</source>
        <translation>OK</translation>
    </message>
</context>
<context>
    <name>PlateKeypad</name>
    <message>
        <source>字母/省份</source>
        <extracomment>the session&apos;s memory, shared by every lane&apos;s keypad</extracomment>
        <translation>ABC/Province</translation>
    </message>
    <message>
        <source>清除</source>
        <translation>Clear</translation>
    </message>
</context>
<context>
    <name>PlatePanel</name>
    <message>
        <source>更正车牌</source>
        <extracomment>suggestion buttons shown at most</extracomment>
        <translation>Correct plate</translation>
    </message>
    <message>
        <source>输入正确车牌，例如 苏A12345</source>
        <translation>Type the right plate, e.g. 苏A12345</translation>
    </message>
    <message>
        <source>在场车辆中可能是：</source>
        <translation>Perhaps, among cars in the lot:</translation>
    </message>
    <message>
        <source>确认车牌</source>
        <translation>Confirm plate</translation>
    </message>
    <message>
        <source>识别为 %1</source>
        <translation>Read as %1</translation>
    </message>
    <message>
        <source>车牌无效：%1</source>
        <translation>Invalid plate: %1</translation>
    </message>
</context>
<context>
    <name>PlateWording</name>
    <message>
        <source>车牌不是文字</source>
        <extracomment>PlateError codes in words; %1 is the character concerned, %2 its position, %3 the expected shape. They follow &quot;车牌无效：&quot;, so none holds a colon of its own (no &quot;车牌无效：太短：普通车牌为7位：…&quot;)</extracomment>
        <translation>the plate is not text</translation>
    </message>
    <message>
        <source>车牌为空</source>
        <translation>the plate is empty</translation>
    </message>
    <message>
        <source>「%1」不是省份简称（车牌以省份简称、使或WJ开头）</source>
        <translation>&quot;%1&quot; is not a province character (a plate starts with a province, 使 or WJ)</translation>
    </message>
    <message>
        <source>「%1」不是省份简称；像军车车牌，请人工处理</source>
        <translation>&quot;%1&quot; is not a province character; this looks like a military plate: handle it by hand</translation>
    </message>
    <message>
        <source>「%1」只能是车牌的最后一位</source>
        <translation>&quot;%1&quot; can only be the last character</translation>
    </message>
    <message>
        <source>「%1」是省份简称，只能在第1位</source>
        <translation>&quot;%1&quot; is a province character and can only come first</translation>
    </message>
    <message>
        <source>小型新能源车牌字母后应为D或F，不能是「%1」</source>
        <translation>a small new-energy plate has D or F after the letter, not &quot;%1&quot;</translation>
    </message>
    <message>
        <source>以「%1」结尾的车牌只有7位</source>
        <translation>a plate ending in &quot;%1&quot; has 7 characters</translation>
    </message>
    <message>
        <source>无牌车，请按无牌车处理</source>
        <translation>no plate, handle it as a car without a plate</translation>
    </message>
    <message>
        <source>应急车牌不能自动处理，请人工处理</source>
        <translation>emergency plates are not handled automatically, handle it by hand</translation>
    </message>
    <message>
        <source>含有车牌上不会出现的字符「%1」</source>
        <translation>has characters never on plates (&quot;%1&quot;)</translation>
    </message>
    <message>
        <source>太短，%3</source>
        <translation>too short, %3</translation>
    </message>
    <message>
        <source>太长，%3</source>
        <translation>too long, %3</translation>
    </message>
    <message>
        <source>第2位不能是「%1」（字母I和O不用于车牌）</source>
        <translation>character 2 cannot be &quot;%1&quot; (the letters I and O are never issued)</translation>
    </message>
    <message>
        <source>第%2位不能是「%1」，%3</source>
        <translation>character %2 cannot be &quot;%1&quot;, %3</translation>
    </message>
    <message>
        <source>8位车牌应为新能源车牌（小型字母后是D或F，大型以D或F结尾）</source>
        <translation>an 8-character plate is new-energy (D or F after the letter if small, at the end if large)</translation>
    </message>
    <message>
        <source>普通车牌为7位（省份、字母、5位序号）</source>
        <translation>an ordinary plate has 7 characters (province, letter, 5 serial characters)</translation>
    </message>
    <message>
        <source>车牌最多8位（新能源车牌为省份、字母、6位序号）</source>
        <translation>a plate has at most 8 characters (a new-energy plate is province, letter, 6 serial characters)</translation>
    </message>
    <message>
        <source>第2位是字母（不含I和O）</source>
        <translation>character 2 is a letter (no I or O)</translation>
    </message>
    <message>
        <source>序号是字母（不含I和O）和数字</source>
        <translation>the serial is letters (no I or O) and digits</translation>
    </message>
    <message>
        <source>领馆车牌在字母和「领」之间是4位数字</source>
        <translation>a consulate plate has 4 digits between the letter and 领</translation>
    </message>
    <message>
        <source>大型新能源车牌在结尾的D或F之前是5位数字</source>
        <translation>a large new-energy plate has 5 digits before its final D or F</translation>
    </message>
    <message>
        <source>小型新能源车牌以4位数字结尾</source>
        <translation>a small new-energy plate ends in 4 digits</translation>
    </message>
    <message>
        <source>武警车牌是WJ、可选的省份简称和4至5位序号</source>
        <translation>an armed police plate is WJ, an optional province and 4-5 serial characters</translation>
    </message>
    <message>
        <source>使馆车牌是「使」加6位数字</source>
        <translation>an embassy plate is 使 and 6 digits</translation>
    </message>
    <message>
        <source>无牌车编号是「无」加7位字母（不含I和O）或数字</source>
        <translation>a plateless id is 无 and 7 letters (no I or O) or digits</translation>
    </message>
</context>
<context>
    <name>ReasonPanel</name>
    <message>
        <source>原因（必填）：点选或输入</source>
        <extracomment>the longest reason stored with a free release or manual lift the longest note with one (booth.engine.NOTE_MAX)</extracomment>
        <translation>Reason (required): tap or type</translation>
    </message>
    <message>
        <source>原因（必填）：请点选</source>
        <translation>Reason (required): tap one</translation>
    </message>
    <message>
        <source>备注（可选）</source>
        <translation>Note (optional)</translation>
    </message>
    <message>
        <source>或输入主管用户名</source>
        <translation>Or type the supervisor&apos;s user name</translation>
    </message>
    <message>
        <source>「%1」需要主管批准：请主管点选姓名（或输入用户名），再输入 PIN</source>
        <translation>“%1” needs a supervisor&apos;s approval: the supervisor taps their name (or types the user name), then enters the PIN</translation>
    </message>
    <message>
        <source>请先点选主管姓名或输入用户名</source>
        <translation>First tap the supervisor&apos;s name or type a user name</translation>
    </message>
    <message>
        <source>更换原因</source>
        <translation>Change reason</translation>
    </message>
    <message>
        <source>请填写或选择原因</source>
        <translation>Type or choose a reason</translation>
    </message>
    <message>
        <source>请从列表中选择原因</source>
        <translation>Choose a reason from the list</translation>
    </message>
</context>
<context>
    <name>Report</name>
    <message>
        <source>现金</source>
        <translation>Cash</translation>
    </message>
    <message>
        <source>泊链钱包</source>
        <translation>Bolink wallet</translation>
    </message>
    <message>
        <source>泊链扫码</source>
        <translation>Bolink QR (driver scans)</translation>
    </message>
    <message>
        <source>泊链被扫</source>
        <translation>Bolink QR (booth scans)</translation>
    </message>
    <message>
        <source>预付</source>
        <translation>Prepaid</translation>
    </message>
    <message>
        <source>月卡</source>
        <translation>Monthly pass</translation>
    </message>
    <message>
        <source>免费</source>
        <translation>Free</translation>
    </message>
    <message>
        <source>微信</source>
        <translation>WeChat</translation>
    </message>
    <message>
        <source>支付宝</source>
        <translation>Alipay</translation>
    </message>
    <message>
        <source>银联</source>
        <translation>UnionPay</translation>
    </message>
    <message>
        <source>余额</source>
        <translation>Balance</translation>
    </message>
    <message>
        <source>未注明（现金等）</source>
        <translation>Not stated (cash etc.)</translation>
    </message>
    <message>
        <source>车辆离场后到账</source>
        <translation>Paid after the vehicle left</translation>
    </message>
    <message>
        <source>未知订单</source>
        <translation>Unknown order</translation>
    </message>
    <message>
        <source>非本车道订单</source>
        <translation>Another lane&apos;s order</translation>
    </message>
    <message>
        <source>出场结算中到账</source>
        <translation>Paid while the exit was settling</translation>
    </message>
    <message>
        <source>免费放行</source>
        <translation>Free release</translation>
    </message>
    <message>
        <source>新记欠费</source>
        <translation>Arrears kept (missed exits)</translation>
    </message>
    <message>
        <source>收回欠费</source>
        <translation>Arrears collected</translation>
    </message>
    <message>
        <source>免收欠费</source>
        <translation>Arrears waived</translation>
    </message>
    <message>
        <source>未收欠费</source>
        <translation>Arrears still owed</translation>
    </message>
    <message>
        <source>已支付</source>
        <translation>Paid</translation>
    </message>
    <message>
        <source>放行（未收费）</source>
        <translation>Released (unpaid)</translation>
    </message>
    <message>
        <source>已取消</source>
        <translation>Cancelled</translation>
    </message>
    <message>
        <source>漏记出场</source>
        <translation>Missed exits</translation>
    </message>
    <message>
        <source>另有 %1 条未列出</source>
        <translation>%1 more not listed</translation>
    </message>
    <message>
        <source>班次报表 #%1 · %2</source>
        <translation>Shift report #%1 · %2</translation>
    </message>
    <message>
        <source>期间报表 %1 – %2</source>
        <translation>Period report %1 – %2</translation>
    </message>
    <message>
        <source>时段</source>
        <translation>Period</translation>
    </message>
    <message>
        <source>按支付方式</source>
        <translation>By payment method</translation>
    </message>
    <message>
        <source>支付方式</source>
        <translation>Payment method</translation>
    </message>
    <message>
        <source>笔数</source>
        <translation>Count</translation>
    </message>
    <message>
        <source>金额（元）</source>
        <translation>Amount (yuan)</translation>
    </message>
    <message>
        <source>合计</source>
        <translation>Total</translation>
    </message>
    <message>
        <source>按支付渠道</source>
        <translation>By payment channel</translation>
    </message>
    <message>
        <source>渠道</source>
        <translation>Channel</translation>
    </message>
    <message>
        <source>已标记的付款</source>
        <translation>Flagged payments</translation>
    </message>
    <message>
        <source>原因</source>
        <translation>Reason</translation>
    </message>
    <message>
        <source>车辆</source>
        <translation>Vehicles</translation>
    </message>
    <message>
        <source>项目</source>
        <translation>Item</translation>
    </message>
    <message>
        <source>数量</source>
        <translation>Quantity</translation>
    </message>
    <message>
        <source>入场车辆</source>
        <translation>Vehicles in</translation>
    </message>
    <message>
        <source>出场车辆</source>
        <translation>Vehicles out</translation>
    </message>
    <message>
        <source>支付失败</source>
        <translation>Payment failed</translation>
    </message>
    <message>
        <source>备用金</source>
        <translation>Float</translation>
    </message>
    <message>
        <source>现金收入（%1 笔）</source>
        <translation>Cash taken (%1 payments)</translation>
    </message>
    <message>
        <source>应有现金</source>
        <translation>Expected cash</translation>
    </message>
    <message>
        <source>清点现金</source>
        <translation>Counted cash</translation>
    </message>
    <message>
        <source>差额</source>
        <translation>Variance</translation>
    </message>
    <message>
        <source>备注</source>
        <translation>Note</translation>
    </message>
    <message>
        <source>每小时出场与收款</source>
        <translation>Exits and money received per hour</translation>
    </message>
    <message>
        <source>按时段（全期合计）出场与收款</source>
        <translation>Exits and money received by hour of day (whole period)</translation>
    </message>
    <message>
        <source>人工抬杆</source>
        <translation>Manual lift</translation>
    </message>
    <message>
        <source>待发</source>
        <translation>To send</translation>
    </message>
    <message>
        <source>失败</source>
        <translation>Failed</translation>
    </message>
    <message>
        <source>时段：%1 – %2（%3）</source>
        <translation>Period: %1 – %2 (%3)</translation>
    </message>
    <message>
        <source>生成时间：%1</source>
        <translation>Generated: %1</translation>
    </message>
    <message>
        <source>收款合计：%1 元（%2 笔）</source>
        <translation>Total received: %1 yuan (%2 payments)</translation>
    </message>
    <message>
        <source>已计收 %1；已标记待处理 %2</source>
        <translation>Counted %1; flagged for review %2</translation>
    </message>
    <message>
        <source>结算：%1</source>
        <translation>Settled: %1</translation>
    </message>
    <message>
        <source>主管签字</source>
        <translation>Co-signed by</translation>
    </message>
    <message>
        <source>留给下一班的备用金</source>
        <translation>Float left for the next shift</translation>
    </message>
    <message>
        <source>免费放行与人工抬杆</source>
        <translation>Free releases and manual lifts</translation>
    </message>
    <message>
        <source>时间</source>
        <translation>Time</translation>
    </message>
    <message>
        <source>类型</source>
        <translation>Type</translation>
    </message>
    <message>
        <source>车道</source>
        <translation>Lane</translation>
    </message>
    <message>
        <source>车牌</source>
        <translation>Plate</translation>
    </message>
    <message>
        <source>应收（元）</source>
        <translation>Due (yuan)</translation>
    </message>
    <message>
        <source>操作人</source>
        <translation>Operator</translation>
    </message>
    <message>
        <source>批准人</source>
        <translation>Approved by</translation>
    </message>
    <message>
        <source>%1（%2）</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>方式</source>
        <translation>Method</translation>
    </message>
    <message>
        <source>错误</source>
        <translation>Error</translation>
    </message>
    <message>
        <source>其他已标记的付款</source>
        <translation>Other flagged payments</translation>
    </message>
    <message>
        <source>交易号</source>
        <translation>Trade no.</translation>
    </message>
    <message>
        <source>车牌/订单</source>
        <translation>Plate / order</translation>
    </message>
    <message>
        <source>已付款未出场</source>
        <translation>Paid, not exited</translation>
    </message>
    <message>
        <source>入场时间</source>
        <translation>Entry time</translation>
    </message>
    <message>
        <source>已付（元）</source>
        <translation>Paid (yuan)</translation>
    </message>
    <message>
        <source>最后付款</source>
        <translation>Last payment</translation>
    </message>
    <message>
        <source>未付款出场</source>
        <translation>Exited unpaid</translation>
    </message>
    <message>
        <source>同步积压</source>
        <translation>Sync backlog</translation>
    </message>
    <message>
        <source>平台</source>
        <translation>Platform</translation>
    </message>
    <message>
        <source>状态</source>
        <translation>State</translation>
    </message>
    <message>
        <source>条数</source>
        <translation>Rows</translation>
    </message>
    <message>
        <source>最早</source>
        <translation>Oldest</translation>
    </message>
    <message>
        <source>以下各项无记录：%1</source>
        <translation>Nothing recorded: %1</translation>
    </message>
    <message>
        <source>、</source>
        <translation>, </translation>
    </message>
    <message>
        <source>长款</source>
        <translation>Over</translation>
    </message>
    <message>
        <source>短款</source>
        <translation>Short</translation>
    </message>
    <message>
        <source>账实相符</source>
        <translation>Balanced</translation>
    </message>
    <message>
        <source>第 %1 / %2 页</source>
        <translation>Page %1 of %2</translation>
    </message>
    <message>
        <source>收款（元）</source>
        <translation>Received (yuan)</translation>
    </message>
    <message>
        <source>出场（辆）</source>
        <translation>Exits (vehicles)</translation>
    </message>
</context>
<context>
    <name>ReportView</name>
    <message>
        <source>报表</source>
        <translation>Reports</translation>
    </message>
    <message>
        <source>今天</source>
        <translation>Today</translation>
    </message>
    <message>
        <source>昨天</source>
        <translation>Yesterday</translation>
    </message>
    <message>
        <source>本周</source>
        <translation>This week</translation>
    </message>
    <message>
        <source>本月</source>
        <translation>This month</translation>
    </message>
    <message>
        <source>上月</source>
        <translation>Last month</translation>
    </message>
    <message>
        <source>全部收费员</source>
        <translation>All attendants</translation>
    </message>
    <message>
        <source>保存 PDF</source>
        <translation>Save PDF</translation>
    </message>
    <message>
        <source>保存 CSV</source>
        <translation>Save CSV</translation>
    </message>
    <message>
        <source>打印</source>
        <translation>Print</translation>
    </message>
    <message>
        <source>班次报表 #%1</source>
        <translation>Shift report #%1</translation>
    </message>
    <message>
        <source>期间报表</source>
        <translation>Period report</translation>
    </message>
    <message>
        <source>正在生成报表…</source>
        <translation>Building the report…</translation>
    </message>
    <message>
        <source>该班次尚未交班：请先完成现金清点交班，再查看其报表</source>
        <translation>This shift is not closed yet: count the cash and close it first, then see its report</translation>
    </message>
    <message>
        <source>所选期间没有任何数据（无收费、无车辆进出）</source>
        <translation>Nothing in the chosen period (no payments, no vehicles in or out)</translation>
    </message>
    <message>
        <source>没有这个班次</source>
        <translation>No such shift</translation>
    </message>
    <message>
        <source>无法生成报表：%1</source>
        <translation>Cannot build the report: %1</translation>
    </message>
    <message>
        <source>导出到：%1</source>
        <translation>Export to: %1</translation>
    </message>
    <message>
        <source>PDF 保存失败：%1</source>
        <translation>Saving the PDF failed: %1</translation>
    </message>
    <message>
        <source>已保存 PDF：%1</source>
        <translation>PDF saved: %1</translation>
    </message>
    <message>
        <source>CSV 保存失败：%1</source>
        <translation>Saving the CSV failed: %1</translation>
    </message>
    <message>
        <source>已保存 CSV：%1</source>
        <translation>CSV saved: %1</translation>
    </message>
    <message>
        <source>打印失败：%1</source>
        <translation>Printing failed: %1</translation>
    </message>
    <message>
        <source>已发送到打印机</source>
        <translation>Sent to the printer</translation>
    </message>
</context>
<context>
    <name>ShiftClosePanel</name>
    <message>
        <source>交班：现金清点</source>
        <translation>Close shift: cash count</translation>
    </message>
    <message>
        <source>备注（可选）</source>
        <translation>Note (optional)</translation>
    </message>
    <message>
        <source>提交交班</source>
        <translation>Submit and close</translation>
    </message>
    <message>
        <source>清点合计</source>
        <translation>Counted total</translation>
    </message>
    <message>
        <source>留给下一班的备用金（元）</source>
        <translation>Float left for the next shift (yuan)</translation>
    </message>
    <message>
        <source>返回重新清点</source>
        <translation>Back to count again</translation>
    </message>
    <message>
        <source>应有现金</source>
        <translation>Expected cash</translation>
    </message>
    <message>
        <source>清点现金</source>
        <translation>Counted cash</translation>
    </message>
    <message>
        <source>差额</source>
        <translation>Variance</translation>
    </message>
    <message>
        <source>留给下一班的备用金</source>
        <translation>Float left for the next shift</translation>
    </message>
    <message>
        <source>主管签字</source>
        <translation>Co-signed by</translation>
    </message>
    <message>
        <source>查看本班报表</source>
        <translation>See this shift&apos;s report</translation>
    </message>
    <message>
        <source>完成</source>
        <translation>Done</translation>
    </message>
    <message>
        <source>交班：%1（%2）</source>
        <translation>Close shift: %1 (%2)</translation>
    </message>
    <message>
        <source>请输入留给下一班的备用金（元），例如 500</source>
        <translation>Enter the float left for the next shift (yuan), e.g. 500</translation>
    </message>
    <message>
        <source>留给下一班的备用金 %1 不能多于清点合计 %2</source>
        <translation>The float left for the next shift %1 cannot be more than the counted total %2</translation>
    </message>
    <message>
        <source>班次 #%1 已交班：%2</source>
        <translation>Shift #%1 closed: %2</translation>
    </message>
    <message>
        <source>清点明细：%1</source>
        <translation>Counted: %1</translation>
    </message>
    <message>
        <source>长款</source>
        <translation>Over</translation>
    </message>
    <message>
        <source>短款</source>
        <translation>Short</translation>
    </message>
    <message>
        <source>%1（%2）</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>%1：%2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>或输入主管用户名</source>
        <translation>Or type the supervisor&apos;s user name</translation>
    </message>
    <message>
        <source>按面额清点钱箱中的现金（含备用金）。提交前不显示应有现金。</source>
        <translation>Count the cash in the drawer by denomination (float included). The expected cash is not shown before you submit.</translation>
    </message>
    <message>
        <source>清点现金与应有现金的差额超出允许范围，需要主管共同签字。</source>
        <translation>The variance between counted and expected cash is over the limit: a supervisor must co-sign.</translation>
    </message>
    <message>
        <source>请先点选主管姓名或输入用户名</source>
        <translation>First tap the supervisor&apos;s name or type a user name</translation>
    </message>
    <message>
        <source>账实相符</source>
        <translation>Balanced</translation>
    </message>
    <message>
        <source>处理中…</source>
        <translation>Working…</translation>
    </message>
</context>
<context>
    <name>ShiftWords</name>
    <message>
        <source>已有班次未交班：请先交班</source>
        <extracomment>what the attendant reads for each booth.shifts.ShiftError code (the message itself is English)</extracomment>
        <translation>A shift is still open: close it first</translation>
    </message>
    <message>
        <source>当前没有开启的班次</source>
        <translation>No shift is open now</translation>
    </message>
    <message>
        <source>该班次已经交班</source>
        <translation>This shift is already closed</translation>
    </message>
    <message>
        <source>点钞数量不正确：每种面额须为 0 至 100000 的整数</source>
        <translation>Wrong count: each denomination takes a whole number from 0 to 100000</translation>
    </message>
    <message>
        <source>差额超出允许范围：需要主管输入 PIN 共同签字</source>
        <translation>The variance is over the limit: a supervisor must co-sign with a PIN</translation>
    </message>
    <message>
        <source>主管签字未通过：用户名或 PIN 不正确，或不是主管本人</source>
        <translation>Co-signing failed: wrong user name or PIN, or not a supervisor</translation>
    </message>
    <message>
        <source>留给下一班的备用金须在 0 与清点总额之间</source>
        <translation>The float left for the next shift must be between 0 and the counted total</translation>
    </message>
    <message>
        <source>没有这个班次</source>
        <translation>No such shift</translation>
    </message>
    <message>
        <source>备用金金额不正确</source>
        <translation>The float amount is wrong</translation>
    </message>
    <message>
        <source>该收费员不存在或已停用，不能开班</source>
        <translation>This attendant does not exist or is disabled: no shift can open</translation>
    </message>
    <message>
        <source>备注过长（最多 2000 字）</source>
        <translation>The note is too long (at most 2000 characters)</translation>
    </message>
    <message>
        <source>用户名只能由字母、数字和 _ . - 组成（1-40 个字符）</source>
        <extracomment>what the supervisor reads for each booth.staff.StaffError code (a change to the people refused)</extracomment>
        <translation>A user name has only letters, digits and _ . - (1-40 characters)</translation>
    </message>
    <message>
        <source>请填写姓名</source>
        <translation>Enter a name</translation>
    </message>
    <message>
        <source>角色不正确</source>
        <translation>Wrong role</translation>
    </message>
    <message>
        <source>该用户名已被使用</source>
        <translation>This user name is taken</translation>
    </message>
    <message>
        <source>没有这个用户</source>
        <translation>No such user</translation>
    </message>
    <message>
        <source>只有主管可以这样做</source>
        <translation>Only a supervisor can do this</translation>
    </message>
    <message>
        <source>这是最后一位在职主管，不能停用</source>
        <translation>This is the last active supervisor: cannot be disabled</translation>
    </message>
    <message>
        <source>系统尚未启动完成，请稍候再试</source>
        <translation>The system has not finished starting: please try again in a moment</translation>
    </message>
</context>
<context>
    <name>SideSheet</name>
    <message>
        <source>关闭</source>
        <translation>Close</translation>
    </message>
</context>
<context>
    <name>SignInOverlay</name>
    <message>
        <source>English</source>
        <translation>中文</translation>
    </message>
    <message>
        <source>签到</source>
        <translation>Sign in</translation>
    </message>
    <message>
        <source>开班</source>
        <translation>Open shift</translation>
    </message>
    <message>
        <source>用户名（点选上方姓名或输入）</source>
        <translation>User name (tap a name above or type)</translation>
    </message>
    <message>
        <source>暂不开班（仅主管操作）</source>
        <translation>Do not open a shift now (supervisor only)</translation>
    </message>
    <message>
        <source>返回</source>
        <translation>Back</translation>
    </message>
    <message>
        <source>备用金合计</source>
        <translation>Float counted</translation>
    </message>
    <message>
        <source>收费员签到</source>
        <translation>Attendant sign-in</translation>
    </message>
    <message>
        <source>请点选姓名或输入用户名，再输入 PIN。车道照常工作。</source>
        <translation>Tap your name or type your user name, then enter your PIN. The lanes keep working.</translation>
    </message>
    <message>
        <source>继续班次</source>
        <translation>Resume shift</translation>
    </message>
    <message>
        <source>%1（%2）的班次仍在进行：请输入 PIN 继续。车道照常工作。</source>
        <translation>%1 (%2)&apos;s shift is still open: enter the PIN to go on. The lanes keep working.</translation>
    </message>
    <message>
        <source>请先点选姓名或输入用户名</source>
        <translation>First tap a name or type a user name</translation>
    </message>
    <message>
        <source>正在核对…</source>
        <translation>Checking…</translation>
    </message>
    <message>
        <source>%1（%2）的班次尚未交班：请其先交班，或请主管处理</source>
        <translation>%1 (%2)&apos;s shift is still open: they close it first, or a supervisor handles it</translation>
    </message>
    <message>
        <source>%1，请按面额清点钱箱中的备用金，再开班。</source>
        <translation>%1, count the float in the drawer note by note, then open the shift.</translation>
    </message>
    <message>
        <source>上一班留下的备用金：%1</source>
        <translation>Float left by the last shift: %1</translation>
    </message>
    <message>
        <source>正在开班…</source>
        <translation>Opening the shift…</translation>
    </message>
</context>
<context>
    <name>StaffScreens</name>
    <message>
        <source>交班</source>
        <translation>Close shift</translation>
    </message>
    <message>
        <source>主管</source>
        <translation>Supervisor</translation>
    </message>
    <message>
        <source>签退</source>
        <translation>Sign out</translation>
    </message>
    <message>
        <source>尚未设置收费人员：请用 booth staff 命令添加主管和收费员</source>
        <translation>No staff set up yet: add a supervisor and attendants with the booth staff command</translation>
    </message>
    <message>
        <source>当前没有开启的班次</source>
        <translation>No shift is open now</translation>
    </message>
</context>
<context>
    <name>SupervisorPanel</name>
    <message>
        <source>主管</source>
        <extracomment>how far back the shift list reaches</extracomment>
        <translation>Supervisor</translation>
    </message>
    <message>
        <source>人员</source>
        <translation>Staff</translation>
    </message>
    <message>
        <source>班次</source>
        <translation>Shifts</translation>
    </message>
    <message>
        <source>期间报表</source>
        <translation>Period report</translation>
    </message>
    <message>
        <source>添加收费员</source>
        <translation>Add attendant</translation>
    </message>
    <message>
        <source>返回</source>
        <translation>Back</translation>
    </message>
    <message>
        <source>或输入主管用户名</source>
        <translation>Or type the supervisor&apos;s user name</translation>
    </message>
    <message>
        <source>通道数据</source>
        <translation>Lane figures</translation>
    </message>
    <message>
        <source>请主管点选姓名（或输入用户名），再输入 PIN。</source>
        <translation>Supervisor: tap your name (or type the user name), then enter the PIN.</translation>
    </message>
    <message>
        <source>工号用下方数字键输入。姓名可不填，名单和报表中以工号代替；中文姓名需用键盘输入，或在命令行添加：booth staff add 工号 --name 姓名 --role attendant --by 主管用户名</source>
        <translation>Enter the staff number on the keys below. The name may be left empty: the staff number stands for it in the lists and reports. A Chinese name needs a keyboard, or add the person on the command line: booth staff add NUMBER --name NAME --role attendant --by SUPERVISOR</translation>
    </message>
    <message>
        <source>工号（例如 1002）</source>
        <translation>Staff number (e.g. 1002)</translation>
    </message>
    <message>
        <source>姓名（可不填）</source>
        <translation>Name (optional)</translation>
    </message>
    <message>
        <source>请先点选主管姓名或输入用户名</source>
        <translation>First tap the supervisor&apos;s name or type a user name</translation>
    </message>
    <message>
        <source>主管：%1</source>
        <translation>Supervisor: %1</translation>
    </message>
    <message>
        <source>收费员</source>
        <translation>Attendant</translation>
    </message>
    <message>
        <source>已停用</source>
        <translation>Disabled</translation>
    </message>
    <message>
        <source>已锁定至 %1</source>
        <translation>Locked until %1</translation>
    </message>
    <message>
        <source>在职</source>
        <translation>Active</translation>
    </message>
    <message>
        <source>停用</source>
        <translation>Disable</translation>
    </message>
    <message>
        <source>启用</source>
        <translation>Enable</translation>
    </message>
    <message>
        <source>解锁</source>
        <translation>Unlock</translation>
    </message>
    <message>
        <source>已停用 %1</source>
        <translation>%1 disabled</translation>
    </message>
    <message>
        <source>已启用 %1</source>
        <translation>%1 enabled</translation>
    </message>
    <message>
        <source>已解锁 %1</source>
        <translation>%1 unlocked</translation>
    </message>
    <message>
        <source>在下方输入新收费员的 PIN（%1-%2 位数字）</source>
        <translation>Enter the new attendant&apos;s PIN below (%1-%2 digits)</translation>
    </message>
    <message>
        <source>用下方数字键输入新收费员的工号，再按「确定」</source>
        <translation>Enter the new attendant&apos;s staff number on the keys below, then tap “OK”</translation>
    </message>
    <message>
        <source>请先输入工号</source>
        <translation>Enter the staff number first</translation>
    </message>
    <message>
        <source>PIN 须为 %1-%2 位数字</source>
        <translation>A PIN has %1-%2 digits</translation>
    </message>
    <message>
        <source>已添加收费员 %1（未填姓名，以工号显示）</source>
        <translation>Attendant %1 added (no name: shown by staff number)</translation>
    </message>
    <message>
        <source>工号 %1 已被使用，请换一个</source>
        <translation>Staff number %1 is taken: choose another</translation>
    </message>
    <message>
        <source>请再输入一次同一个 PIN</source>
        <translation>Enter the same PIN again</translation>
    </message>
    <message>
        <source>两次输入的 PIN 不一致，请重新输入</source>
        <translation>The two PINs differ: enter them again</translation>
    </message>
    <message>
        <source>已添加收费员 %1（%2）</source>
        <translation>Attendant %1 (%2) added</translation>
    </message>
    <message>
        <source>最近 %1 天没有班次</source>
        <translation>No shifts in the last %1 days</translation>
    </message>
    <message>
        <source>未交班</source>
        <translation>Open</translation>
    </message>
    <message>
        <source>至 %1 · 应有 %2 · 清点 %3 · 差额 %4</source>
        <translation>to %1 · expected %2 · counted %3 · variance %4</translation>
    </message>
    <message>
        <source>主管签字：%1</source>
        <translation>Co-signed by: %1</translation>
    </message>
    <message>
        <source>报表</source>
        <translation>Reports</translation>
    </message>
    <message>
        <source>交班</source>
        <translation>Close shift</translation>
    </message>
</context>
<context>
    <name>SyncIndicator</name>
    <message>
        <source>点按查看后台同步详情</source>
        <extracomment>the bridge routes outcomes by lane; requeues belong to no lane &quot;all clouds&quot; in the panel&apos;s bookkeeping (``requeue_dead`` takes None for it)</extracomment>
        <translation>Tap for the background sync details</translation>
    </message>
    <message>
        <source>同步：—</source>
        <translation>Sync: —</translation>
    </message>
</context>
<context>
    <name>SyncPanel</name>
    <message>
        <source>后台同步</source>
        <translation>Background sync</translation>
    </message>
    <message>
        <source>关闭</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>失败项不会自动重发：请先排除原因（配置、数据或网络），再点「重试失败项」重新排队。</source>
        <translation>Failed items are not resent by themselves: fix the cause (settings, data or network) first, then tap &quot;Retry failed items&quot; to queue them again.</translation>
    </message>
    <message>
        <source>全部重试失败项</source>
        <translation>Retry all failed items</translation>
    </message>
    <message>
        <source>重试失败项需要主管批准：请主管点选姓名（或输入用户名），再输入 PIN</source>
        <translation>Retrying failed items needs a supervisor&apos;s approval: the supervisor taps their name (or types the user name), then enters the PIN</translation>
    </message>
    <message>
        <source>或输入主管用户名</source>
        <translation>Or type the supervisor&apos;s user name</translation>
    </message>
    <message>
        <source>请先点选主管姓名或输入用户名</source>
        <translation>First tap the supervisor&apos;s name or type a user name</translation>
    </message>
    <message>
        <source>取消</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>更新于 %1</source>
        <translation>Updated %1</translation>
    </message>
    <message>
        <source>请主管输入 PIN</source>
        <translation>Supervisor, enter your PIN</translation>
    </message>
    <message>
        <source>已提交重试</source>
        <translation>Retry submitted</translation>
    </message>
    <message>
        <source>没有需要重试的失败项</source>
        <translation>No failed items to retry</translation>
    </message>
    <message>
        <source>已重新排队 %1 条</source>
        <translation>%1 queued again</translation>
    </message>
    <message>
        <source>处理中…</source>
        <translation>Working…</translation>
    </message>
</context>
<context>
    <name>SyncWording</name>
    <message>
        <source>泊链</source>
        <translation>Bolink</translation>
    </message>
    <message>
        <source>支付宝</source>
        <translation>Alipay</translation>
    </message>
    <message>
        <source>天猫</source>
        <translation>Tmall</translation>
    </message>
    <message>
        <source>入场上传</source>
        <extracomment>what an outbox row carries, in words (unknown kinds are shown as they are)</extracomment>
        <translation>Entry upload</translation>
    </message>
    <message>
        <source>出场上传</source>
        <translation>Exit upload</translation>
    </message>
    <message>
        <source>订单同步</source>
        <translation>Order sync</translation>
    </message>
    <message>
        <source>入场回流</source>
        <translation>Entry backflow</translation>
    </message>
    <message>
        <source>支付回流</source>
        <translation>Payment backflow</translation>
    </message>
    <message>
        <source>出场回流</source>
        <translation>Exit backflow</translation>
    </message>
    <message>
        <source>支付上报（重建）</source>
        <translation>Payment report (rebuilt)</translation>
    </message>
    <message>
        <source>有失败项</source>
        <translation>Has failed items</translation>
    </message>
    <message>
        <source>暂停发送</source>
        <translation>Sending paused</translation>
    </message>
    <message>
        <source>已熔断</source>
        <translation>Breaker open</translation>
    </message>
    <message>
        <source>试探恢复中</source>
        <translation>Probing recovery</translation>
    </message>
    <message>
        <source>发送中</source>
        <translation>Sending</translation>
    </message>
    <message>
        <source>正常</source>
        <translation>Normal</translation>
    </message>
    <message>
        <source>正常（发送中）</source>
        <translation>Normal (sending)</translation>
    </message>
    <message>
        <source>已熔断：暂停发送，约%1秒后试探</source>
        <translation>Open: sending paused, probing in about %1 s</translation>
    </message>
    <message>
        <source>试探中：已发出一条，成功即恢复</source>
        <translation>Probing: one sent, recovers when it succeeds</translation>
    </message>
    <message>
        <source>无（按退避重试）</source>
        <translation>None (retries with back-off)</translation>
    </message>
    <message>
        <source>%1秒</source>
        <translation>%1 s</translation>
    </message>
    <message>
        <source>车场服务器离线（待推 %1）</source>
        <translation>lot server offline (%1 to push)</translation>
    </message>
    <message>
        <source>车场服务器 待推 %1</source>
        <translation>lot server %1 to push</translation>
    </message>
    <message>
        <source>待发 %1</source>
        <translation>%1 to send</translation>
    </message>
    <message>
        <source>失败 %1</source>
        <translation>%1 failed</translation>
    </message>
    <message>
        <source>暂停</source>
        <translation>paused</translation>
    </message>
    <message>
        <source>同步：正常</source>
        <translation>Sync: normal</translation>
    </message>
    <message>
        <source>同步异常：</source>
        <translation>Sync problem: </translation>
    </message>
    <message>
        <source>同步：</source>
        <translation>Sync: </translation>
    </message>
    <message>
        <source>；</source>
        <translation>; </translation>
    </message>
</context>
</TS>
