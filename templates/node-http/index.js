'use strict'
// The server of the node-http template (Node.js core modules only). fwatchdog (mode=http)
// starts it once per replica and proxies each request to it on $http_port; every request
// becomes (event, context) for the handler in function/handler.js.

const http = require('http')
const handler = require('./function/handler')

class Context {
  constructor () {
    this.statusCode = 200
    this.headerValues = {}
    this.value = undefined
    this.failed = false
  }

  status (code) {
    if (code === undefined) return this.statusCode
    this.statusCode = code
    return this
  }

  headers (values) {
    if (values === undefined) return this.headerValues
    this.headerValues = values
    return this
  }

  succeed (value) {
    this.value = value
    return this
  }

  fail (value) {
    this.statusCode = 500
    this.value = value
    this.failed = true
    return this
  }
}

function parseBody (raw, contentType) {
  if ((contentType || '').startsWith('application/json') && raw.length > 0) {
    try {
      return JSON.parse(raw.toString())
    } catch (e) {
      return raw.toString()
    }
  }
  return raw.toString()
}

function send (res, status, headers, value) {
  let body = value
  if (body === undefined || body === null) body = ''
  if (typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body)
    if (!Object.keys(headers).some(k => k.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json'
    }
  }
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(String(body))
  res.writeHead(status, { ...headers, 'Content-Length': payload.length })
  res.end(payload)
}

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', chunk => chunks.push(chunk))
  req.on('end', async () => {
    const url = new URL(req.url, 'http://localhost')
    const event = {
      body: parseBody(Buffer.concat(chunks), req.headers['content-type']),
      headers: req.headers,
      method: req.method,
      query: Object.fromEntries(url.searchParams),
      path: url.pathname
    }
    const context = new Context()
    try {
      const result = await handler(event, context)
      if (result instanceof Context || result === undefined) {
        send(res, context.statusCode, context.headerValues, context.value)
      } else {
        send(res, context.statusCode, context.headerValues, result)
      }
    } catch (err) {
      console.error(err)
      send(res, 500, { 'Content-Type': 'text/plain' }, 'handler failed\n')
    }
  })
})

server.keepAliveTimeout = 60000
server.listen(Number(process.env.http_port || 3000), '127.0.0.1')
