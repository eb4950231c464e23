// The orchestrator's app settings, applied after the gateway and tools exist so their URLs are
// known. Secrets are Key Vault references resolved by the app's identity; nothing secret is
// written here. Flex Consumption forbids FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION
// (the runtime is set in functionAppConfig), so they are absent on purpose.

@description('Name of the Function App.')
param functionAppName string

@description('Settings with plain values: { NAME: value }.')
param settings object

@description('Name of the Key Vault the secret settings reference.')
param keyVaultName string

@description('Settings whose value is a Key Vault secret: { NAME: secretName }.')
param secretSettings object

var references = toObject(items(secretSettings), s => s.key, s => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${s.value})')

resource app 'Microsoft.Web/sites@2025-05-01' existing = {
  name: functionAppName
}

resource appSettings 'Microsoft.Web/sites/config@2025-05-01' = {
  parent: app
  name: 'appsettings'
  properties: union(settings, references)
}
