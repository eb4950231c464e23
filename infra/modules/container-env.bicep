// The Container Apps environment the gateway and the tools run in, and the Azure Files shares
// that keep the SQLite files of the stateful tools across restarts and revisions.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Container Apps environment.')
param name string

@description('Log Analytics workspace that receives the apps\' console logs.')
param workspaceName string

@description('Storage account holding one file share per stateful service (3-24 lowercase alphanumerics).')
param dataStorageAccountName string

@description('Services that keep files: each gets a share and an environment storage of the same name.')
param statefulServices array

@description('Size of each share in GiB.')
@minValue(1)
param shareQuotaGiB int = 5

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

// SMB shares need the account key (Container Apps mounts Azure Files with it); this account
// holds only tool data, so the Functions storage account can stay key-less.
resource data 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: dataStorageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource files 'Microsoft.Storage/storageAccounts/fileServices@2026-09-01' = {
  parent: data
  name: 'default'
}

resource share 'Microsoft.Storage/storageAccounts/fileServices/shares@2026-09-01' = [for service in statefulServices: {
  parent: files
  name: service
  properties: {
    shareQuota: shareQuotaGiB
  }
}]

resource environment 'Microsoft.App/managedEnvironments@2026-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

resource storage 'Microsoft.App/managedEnvironments/storages@2026-07-01' = [for (service, i) in statefulServices: {
  parent: environment
  name: service
  properties: {
    azureFile: {
      accountName: data.name
      accountKey: data.listKeys().keys[0].value
      shareName: share[i].name
      accessMode: 'ReadWrite'
    }
  }
}]

output id string = environment.id
output name string = environment.name
output defaultDomain string = environment.properties.defaultDomain
