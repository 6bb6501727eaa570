-- wrk script: POSTs a small body (a classic-mode function reads it on stdin) and reports
-- like wrk_stats.lua. The body matches exec_loop's default input, the baseline it is
-- compared against.

wrk.method = "POST"
wrk.body = "hi\n"

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_stats.lua")
