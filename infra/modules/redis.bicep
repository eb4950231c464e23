// The live event channel (TOOLMESH_EVENTS): an Azure Cache for Redis holding each run's event
// stream, shared by every instance of the Function App (the instance that serves a watcher's
// stream is seldom the one whose activity publishes). TLS only. The connection URL, with the
// cache's access key, is written to Key Vault here, so the key never leaves the deployment as an
// output; the app reads it as a Key Vault reference.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the cache (1-63 characters, globally unique).')
param name string

@description('Name of the Key Vault the connection URL is written to.')
param keyVaultName string

@description('Name of the Key Vault secret that holds the connection URL (rediss://:<key>@<host>:6380/0).')
param urlSecretName string

@description('Cache SKU: Basic (one node), Standard (replicated) or Premium.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param skuName string = 'Basic'

@description('Cache size in its SKU family (C0-C6 for Basic and Standard, P1-P5 for Premium).')
@minValue(0)
@maxValue(6)
param capacity int = 0

resource cache 'Microsoft.Cache/redis@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: skuName
      family: (skuName == 'Premium') ? 'P' : 'C'
      capacity: capacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisVersion: '6'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: keyVaultName
}

// The key is base64 (+, / and =): percent-encoded so the URL parses; the redis client decodes it.
resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = {
  parent: vault
  name: urlSecretName
  properties: {
    value: 'rediss://:${uriComponent(cache.listKeys().primaryKey)}@${cache.properties.hostName}:${cache.properties.sslPort}/0'
    contentType: 'text/plain'
  }
}

output name string = cache.name
output hostName string = cache.properties.hostName
output urlSecretName string = urlSecret.name
