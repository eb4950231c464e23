// The vault holding every secret of the mesh. Access is Azure RBAC only: each app's identity
// is granted "Key Vault Secrets User" on exactly the secrets it reads (see container-app.bicep
// and function-app.bicep), and the deploying principal may manage them.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Key Vault (3-24 characters, globally unique).')
param name string

@description('Object id of the user or service principal running the deployment; it gets "Key Vault Secrets Officer" so azd can read secrets back on the next provision. Empty: no grant.')
param deployerPrincipalId string = ''

@description('Secret names mapped to their values. Empty values are skipped.')
@secure()
param secrets object

var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = [for item in filter(items(secrets), s => !empty(s.value)): {
  parent: vault
  name: item.key
  properties: {
    value: item.value
    contentType: 'text/plain'
  }
}]

resource deployerAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
    principalId: deployerPrincipalId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
