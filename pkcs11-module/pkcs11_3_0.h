/*
 * pkcs11_3_0.h - the PKCS#11 3.0 definitions p11-kit 0.24's <p11-kit/pkcs11.h> lacks.
 *
 * Written from the OASIS PKCS#11 Base Specification 3.0 (section 5.4, "General-purpose
 * functions", and the CK_INTERFACE / CK_FUNCTION_LIST_3_0 type definitions): the interface
 * record, the 3.0 function list (the 2.40 list followed by the 24 new functions, in the
 * order the specification lists them) and the prototypes of the new functions.
 * Everything here is guarded so that a newer pkcs11.h that already has it wins.
 */
#ifndef WARDEN_PKCS11_3_0_H
#define WARDEN_PKCS11_3_0_H

#include <p11-kit/pkcs11.h>

#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED 0x00000202UL
#endif
#ifndef CKF_EC_F_P
#define CKF_EC_F_P 0x00100000UL
#endif
#ifndef CKF_EC_NAMEDCURVE
#define CKF_EC_NAMEDCURVE 0x00800000UL
#endif
#ifndef CKF_EC_UNCOMPRESS
#define CKF_EC_UNCOMPRESS 0x01000000UL
#endif

#ifndef CK_PKCS11_3_0_DEFINED
#define CK_PKCS11_3_0_DEFINED 1

typedef struct CK_INTERFACE {
	CK_UTF8CHAR *pInterfaceName;
	CK_VOID_PTR pFunctionList;
	CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE **CK_INTERFACE_PTR_PTR;

#define WP11_DECLARE_3_0(name, args)                                                          \
	typedef CK_RV (*CK_##name) args;                                                      \
	CK_RV name args

WP11_DECLARE_3_0(C_GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount));
WP11_DECLARE_3_0(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
				  CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags));
WP11_DECLARE_3_0(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
			       CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
			       CK_ULONG ulUsernameLen));
WP11_DECLARE_3_0(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags));
WP11_DECLARE_3_0(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
					CK_OBJECT_HANDLE hKey));
WP11_DECLARE_3_0(C_EncryptMessage,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
		  CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
		  CK_ULONG_PTR pulCiphertextLen));
WP11_DECLARE_3_0(C_EncryptMessageBegin,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen));
WP11_DECLARE_3_0(C_EncryptMessageNext,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
		  CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags));
WP11_DECLARE_3_0(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession));
WP11_DECLARE_3_0(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
					CK_OBJECT_HANDLE hKey));
WP11_DECLARE_3_0(C_DecryptMessage,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
		  CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
		  CK_ULONG_PTR pulPlaintextLen));
WP11_DECLARE_3_0(C_DecryptMessageBegin,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen));
WP11_DECLARE_3_0(C_DecryptMessageNext,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
		  CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags));
WP11_DECLARE_3_0(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession));
WP11_DECLARE_3_0(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				     CK_OBJECT_HANDLE hKey));
WP11_DECLARE_3_0(C_SignMessage,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
		  CK_ULONG_PTR pulSignatureLen));
WP11_DECLARE_3_0(C_SignMessageBegin,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen));
WP11_DECLARE_3_0(C_SignMessageNext,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
		  CK_ULONG_PTR pulSignatureLen));
WP11_DECLARE_3_0(C_MessageSignFinal, (CK_SESSION_HANDLE hSession));
WP11_DECLARE_3_0(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				       CK_OBJECT_HANDLE hKey));
WP11_DECLARE_3_0(C_VerifyMessage,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
		  CK_ULONG ulSignatureLen));
WP11_DECLARE_3_0(C_VerifyMessageBegin,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen));
WP11_DECLARE_3_0(C_VerifyMessageNext,
		 (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
		  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
		  CK_ULONG ulSignatureLen));
WP11_DECLARE_3_0(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession));

#undef WP11_DECLARE_3_0

/* The 3.0 function list: version, the 68 functions of the 2.40 list in their order,
 * then the 24 functions new in 3.0. */
typedef struct CK_FUNCTION_LIST_3_0 {
	CK_VERSION version;
	CK_C_Initialize C_Initialize;
	CK_C_Finalize C_Finalize;
	CK_C_GetInfo C_GetInfo;
	CK_C_GetFunctionList C_GetFunctionList;
	CK_C_GetSlotList C_GetSlotList;
	CK_C_GetSlotInfo C_GetSlotInfo;
	CK_C_GetTokenInfo C_GetTokenInfo;
	CK_C_GetMechanismList C_GetMechanismList;
	CK_C_GetMechanismInfo C_GetMechanismInfo;
	CK_C_InitToken C_InitToken;
	CK_C_InitPIN C_InitPIN;
	CK_C_SetPIN C_SetPIN;
	CK_C_OpenSession C_OpenSession;
	CK_C_CloseSession C_CloseSession;
	CK_C_CloseAllSessions C_CloseAllSessions;
	CK_C_GetSessionInfo C_GetSessionInfo;
	CK_C_GetOperationState C_GetOperationState;
	CK_C_SetOperationState C_SetOperationState;
	CK_C_Login C_Login;
	CK_C_Logout C_Logout;
	CK_C_CreateObject C_CreateObject;
	CK_C_CopyObject C_CopyObject;
	CK_C_DestroyObject C_DestroyObject;
	CK_C_GetObjectSize C_GetObjectSize;
	CK_C_GetAttributeValue C_GetAttributeValue;
	CK_C_SetAttributeValue C_SetAttributeValue;
	CK_C_FindObjectsInit C_FindObjectsInit;
	CK_C_FindObjects C_FindObjects;
	CK_C_FindObjectsFinal C_FindObjectsFinal;
	CK_C_EncryptInit C_EncryptInit;
	CK_C_Encrypt C_Encrypt;
	CK_C_EncryptUpdate C_EncryptUpdate;
	CK_C_EncryptFinal C_EncryptFinal;
	CK_C_DecryptInit C_DecryptInit;
	CK_C_Decrypt C_Decrypt;
	CK_C_DecryptUpdate C_DecryptUpdate;
	CK_C_DecryptFinal C_DecryptFinal;
	CK_C_DigestInit C_DigestInit;
	CK_C_Digest C_Digest;
	CK_C_DigestUpdate C_DigestUpdate;
	CK_C_DigestKey C_DigestKey;
	CK_C_DigestFinal C_DigestFinal;
	CK_C_SignInit C_SignInit;
	CK_C_Sign C_Sign;
	CK_C_SignUpdate C_SignUpdate;
	CK_C_SignFinal C_SignFinal;
	CK_C_SignRecoverInit C_SignRecoverInit;
	CK_C_SignRecover C_SignRecover;
	CK_C_VerifyInit C_VerifyInit;
	CK_C_Verify C_Verify;
	CK_C_VerifyUpdate C_VerifyUpdate;
	CK_C_VerifyFinal C_VerifyFinal;
	CK_C_VerifyRecoverInit C_VerifyRecoverInit;
	CK_C_VerifyRecover C_VerifyRecover;
	CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
	CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
	CK_C_SignEncryptUpdate C_SignEncryptUpdate;
	CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
	CK_C_GenerateKey C_GenerateKey;
	CK_C_GenerateKeyPair C_GenerateKeyPair;
	CK_C_WrapKey C_WrapKey;
	CK_C_UnwrapKey C_UnwrapKey;
	CK_C_DeriveKey C_DeriveKey;
	CK_C_SeedRandom C_SeedRandom;
	CK_C_GenerateRandom C_GenerateRandom;
	CK_C_GetFunctionStatus C_GetFunctionStatus;
	CK_C_CancelFunction C_CancelFunction;
	CK_C_WaitForSlotEvent C_WaitForSlotEvent;
	/* new in 3.0 */
	CK_C_GetInterfaceList C_GetInterfaceList;
	CK_C_GetInterface C_GetInterface;
	CK_C_LoginUser C_LoginUser;
	CK_C_SessionCancel C_SessionCancel;
	CK_C_MessageEncryptInit C_MessageEncryptInit;
	CK_C_EncryptMessage C_EncryptMessage;
	CK_C_EncryptMessageBegin C_EncryptMessageBegin;
	CK_C_EncryptMessageNext C_EncryptMessageNext;
	CK_C_MessageEncryptFinal C_MessageEncryptFinal;
	CK_C_MessageDecryptInit C_MessageDecryptInit;
	CK_C_DecryptMessage C_DecryptMessage;
	CK_C_DecryptMessageBegin C_DecryptMessageBegin;
	CK_C_DecryptMessageNext C_DecryptMessageNext;
	CK_C_MessageDecryptFinal C_MessageDecryptFinal;
	CK_C_MessageSignInit C_MessageSignInit;
	CK_C_SignMessage C_SignMessage;
	CK_C_SignMessageBegin C_SignMessageBegin;
	CK_C_SignMessageNext C_SignMessageNext;
	CK_C_MessageSignFinal C_MessageSignFinal;
	CK_C_MessageVerifyInit C_MessageVerifyInit;
	CK_C_VerifyMessage C_VerifyMessage;
	CK_C_VerifyMessageBegin C_VerifyMessageBegin;
	CK_C_VerifyMessageNext C_VerifyMessageNext;
	CK_C_MessageVerifyFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0 **CK_FUNCTION_LIST_3_0_PTR_PTR;

#endif /* CK_PKCS11_3_0_DEFINED */

/* The 3.0 list begins with the whole 2.40 list, in the same layout. */
_Static_assert(sizeof(CK_FUNCTION_LIST_3_0) == sizeof(CK_FUNCTION_LIST) + 24 * sizeof(void (*)(void)),
	       "CK_FUNCTION_LIST_3_0 is the 2.40 list plus 24 functions");

#endif
