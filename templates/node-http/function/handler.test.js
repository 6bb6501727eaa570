'use strict'
const test = require('node:test')
const assert = require('node:assert')
const handler = require('./handler')

function fakeContext () {
  return {
    statusCode: 200,
    value: undefined,
    status (code) { this.statusCode = code; return this },
    headers () { return this },
    succeed (value) { this.value = value; return this }
  }
}

test('greets the body', async () => {
  const context = await handler({ body: 'funcd', method: 'POST', path: '/' }, fakeContext())
  assert.strictEqual(context.statusCode, 200)
  assert.strictEqual(context.value, 'Hello from node-http! You said: funcd')
})
