<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.RedirSuiteServiceProxy" %>
<!-- exsweep test fixture: the legitimate page whose name the shell mimics -->
